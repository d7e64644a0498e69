//! Local stand-ins for the two services a development machine cannot reach: Discord (REST and
//! gateway) and the Score Service. Test and demo infrastructure only, never a production code
//! path. Filled by the Discord stand-in and eligibility work; empty until then.
