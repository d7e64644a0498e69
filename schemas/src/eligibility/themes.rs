//! Themes as data: the rank bands of their tiers and the criteria of their badges.

use super::ScoreSource;
use crate::Theme;
use std::collections::{BTreeMap, BTreeSet};

/// A tier: members ranked `from..=to` (`to: None` means every rank from `from` on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierBand {
    /// The manifest's tier key (`RoleGrant::Tier`).
    pub key: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Best rank of the band.
    pub from: u32,
    /// Worst rank of the band, inclusive.
    pub to: Option<u32>,
}

/// What earns a badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadgeCriterion {
    /// First acquired the asset within this many days of the community's launch.
    EarlyHolder(u32),
    /// Has held the asset at least this many days.
    HeldDays(u32),
    /// Ranked at most this.
    RankAtMost(u32),
    /// An activity score of at least this (unavailable counts as 0 unless cached).
    ActivityAtLeast(u32),
    /// Never redeemed (sold/burned) the asset (unavailable denies unless cached).
    NeverRedeemed,
    /// At least this many recorded contributions.
    ContributionsAtLeast(u32),
    /// Water was shared with them by a holder of this badge; the lineage starts at the
    /// members ranked at most the given rank.
    Lineage(u32),
}

/// A badge of a theme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadgeSpec {
    /// Stable key.
    pub key: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What earns it.
    pub criterion: BadgeCriterion,
}

/// A theme's tiers, best first, and its badges.
#[derive(Debug)]
pub struct ThemeSpec {
    /// Rank bands, best first, contiguous.
    pub tiers: &'static [TierBand],
    /// Badges.
    pub badges: &'static [BadgeSpec],
}

impl ThemeSpec {
    /// The band a rank falls in, if any.
    pub fn tier_for_rank(&self, rank: u32) -> Option<&TierBand> {
        self.tiers.iter().find(|t| rank >= t.from && t.to.is_none_or(|to| rank <= to))
    }
}

const fn band(key: &'static str, name: &'static str, from: u32, to: Option<u32>) -> TierBand {
    TierBand { key, name, from, to }
}

const fn badge(key: &'static str, name: &'static str, criterion: BadgeCriterion) -> BadgeSpec {
    BadgeSpec { key, name, criterion }
}

use BadgeCriterion::*;

static BASIC: ThemeSpec = ThemeSpec {
    tiers: &[
        band("gold", "Gold", 1, Some(10)),
        band("silver", "Silver", 11, Some(50)),
        band("bronze", "Bronze", 51, Some(100)),
    ],
    badges: &[
        badge("early_adopter", "Early Adopter", EarlyHolder(30)),
        badge("veteran", "Veteran", HeldDays(180)),
        badge("top_tier", "Top Tier", RankAtMost(10)),
        badge("active", "Active", ActivityAtLeast(50)),
        badge("contributor", "Contributor", ContributionsAtLeast(1)),
    ],
};

static SIETCH: ThemeSpec = ThemeSpec {
    tiers: &[
        band("naib", "Naib", 1, Some(7)),
        band("fedaykin", "Fedaykin", 8, Some(69)),
        band("usul", "Usul", 70, Some(100)),
        band("sayyadina", "Sayyadina", 101, Some(150)),
        band("mushtamal", "Mushtamal", 151, Some(200)),
        band("sihaya", "Sihaya", 201, Some(300)),
        band("qanat", "Qanat", 301, Some(500)),
        band("ichwan", "Ichwan", 501, Some(1000)),
        band("hajra", "Hajra", 1001, None),
    ],
    badges: &[
        badge("first_wave", "First Wave", EarlyHolder(30)),
        badge("sandwalker", "Sandwalker", HeldDays(30)),
        badge("desert_survivor", "Desert Survivor", HeldDays(90)),
        badge("veteran_of_arrakis", "Veteran of Arrakis", HeldDays(365)),
        badge("spice_hoarder", "Spice Hoarder", NeverRedeemed),
        badge("naib_council", "Naib Council", RankAtMost(7)),
        badge("fedaykin_elite", "Fedaykin Elite", RankAtMost(69)),
        badge("sandrider", "Sandrider", ActivityAtLeast(50)),
        badge("worm_caller", "Worm Caller", ActivityAtLeast(200)),
        badge("scholar", "Scholar", ContributionsAtLeast(1)),
        badge("loremaster", "Loremaster", ContributionsAtLeast(10)),
        badge("water_sharer", "Water Sharer", Lineage(7)),
    ],
};

impl Theme {
    /// The theme's tiers and badges.
    pub fn spec(self) -> &'static ThemeSpec {
        match self {
            Theme::Basic => &BASIC,
            Theme::Sietch => &SIETCH,
        }
    }
}

/// What the badges of one member are decided on. `None` for a score-derived fact means the
/// Score Service and its cache both failed: activity then counts as 0, "never redeemed" as no.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BadgeFacts {
    /// Days since the member first acquired the asset.
    pub held_days: Option<u32>,
    /// Days between the community's launch and the member's first acquisition.
    pub days_after_launch: Option<u32>,
    /// Rank for the asset.
    pub rank: Option<u32>,
    /// Activity score and its source.
    pub activity: Option<(u32, ScoreSource)>,
    /// Whether the member never redeemed, and its source.
    pub never_redeemed: Option<(bool, ScoreSource)>,
    /// Contributions recorded.
    pub contributions: u32,
    /// The member who shared water with this one.
    pub water_from: Option<String>,
}

/// The badges each member earns, in theme order. Takes the whole guild because a lineage
/// badge depends on who shared with whom.
pub fn badges_for(theme: Theme, members: &BTreeMap<String, BadgeFacts>) -> BTreeMap<String, Vec<&'static str>> {
    let spec = theme.spec();
    members
        .iter()
        .map(|(member, facts)| {
            let earned =
                spec.badges.iter().filter(|b| earns(b.criterion, member, facts, members)).map(|b| b.key).collect();
            (member.clone(), earned)
        })
        .collect()
}

fn earns(criterion: BadgeCriterion, member: &str, f: &BadgeFacts, all: &BTreeMap<String, BadgeFacts>) -> bool {
    match criterion {
        EarlyHolder(days) => f.days_after_launch.is_some_and(|d| d <= days),
        HeldDays(days) => f.held_days.is_some_and(|d| d >= days),
        RankAtMost(rank) => f.rank.is_some_and(|r| r <= rank),
        ActivityAtLeast(min) => f.activity.map_or(0, |(score, _)| score) >= min,
        NeverRedeemed => f.never_redeemed.is_some_and(|(never, _)| never),
        ContributionsAtLeast(n) => f.contributions >= n,
        Lineage(root_rank) => {
            // Walk up who-shared-with-whom until a root; a cycle or a dead end earns nothing.
            let mut seen = BTreeSet::new();
            let mut at = member;
            loop {
                let Some(facts) = all.get(at) else { return false };
                if facts.rank.is_some_and(|r| r <= root_rank) {
                    return true;
                }
                if !seen.insert(at) {
                    return false;
                }
                match &facts.water_from {
                    Some(from) => at = from,
                    None => return false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(theme: Theme, rank: u32) -> Option<&'static str> {
        theme.spec().tier_for_rank(rank).map(|t| t.key)
    }

    #[test]
    fn basic_tier_boundaries() {
        for (rank, want) in [
            (1, Some("gold")),
            (10, Some("gold")),
            (11, Some("silver")),
            (50, Some("silver")),
            (51, Some("bronze")),
            (100, Some("bronze")),
            (101, None),
            (0, None),
        ] {
            assert_eq!(tier(Theme::Basic, rank), want, "rank {rank}");
        }
    }

    #[test]
    fn sietch_tier_boundaries() {
        let cases = [
            (1, "naib"),
            (7, "naib"),
            (8, "fedaykin"),
            (69, "fedaykin"),
            (70, "usul"),
            (100, "usul"),
            (101, "sayyadina"),
            (150, "sayyadina"),
            (151, "mushtamal"),
            (200, "mushtamal"),
            (201, "sihaya"),
            (300, "sihaya"),
            (301, "qanat"),
            (500, "qanat"),
            (501, "ichwan"),
            (1000, "ichwan"),
            (1001, "hajra"),
            (u32::MAX, "hajra"),
        ];
        for (rank, want) in cases {
            assert_eq!(tier(Theme::Sietch, rank), Some(want), "rank {rank}");
        }
        assert_eq!(tier(Theme::Sietch, 0), None);
    }

    #[test]
    fn spec_tiers_match_the_manifest_tier_keys_and_are_contiguous() {
        for theme in [Theme::Basic, Theme::Sietch] {
            let keys: Vec<_> = theme.spec().tiers.iter().map(|t| t.key).collect();
            assert_eq!(keys, theme.tiers());
            for pair in theme.spec().tiers.windows(2) {
                assert_eq!(pair[0].to.map(|t| t + 1), Some(pair[1].from));
            }
        }
        assert_eq!(Theme::Basic.spec().badges.len(), 5);
        assert_eq!(Theme::Sietch.spec().badges.len(), 12);
    }

    #[test]
    fn badge_thresholds_and_degradation() {
        let member = |f: BadgeFacts| BTreeMap::from([("m".to_string(), f)]);
        let earned = |f: BadgeFacts| badges_for(Theme::Basic, &member(f)).remove("m").unwrap_or_default();
        let f = BadgeFacts {
            held_days: Some(180),
            days_after_launch: Some(30),
            rank: Some(10),
            activity: Some((50, ScoreSource::ScoreService)),
            contributions: 1,
            ..Default::default()
        };
        assert_eq!(earned(f.clone()), vec!["early_adopter", "veteran", "top_tier", "active", "contributor"]);
        let g = BadgeFacts {
            held_days: Some(179),
            days_after_launch: Some(31),
            rank: Some(11),
            activity: Some((49, ScoreSource::Cache)),
            contributions: 0,
            ..Default::default()
        };
        assert!(earned(g).is_empty());
        // Activity unavailable counts as 0; "never redeemed" unavailable denies.
        let sietch = |f: BadgeFacts| badges_for(Theme::Sietch, &member(f)).remove("m").unwrap_or_default();
        assert!(
            !sietch(BadgeFacts { activity: None, never_redeemed: None, ..Default::default() })
                .iter()
                .any(|b| *b == "sandrider" || *b == "spice_hoarder")
        );
        let cached = BadgeFacts { never_redeemed: Some((true, ScoreSource::Cache)), ..Default::default() };
        assert_eq!(sietch(cached), vec!["spice_hoarder"]);
    }

    #[test]
    fn water_sharer_follows_its_lineage() {
        let f = |rank: Option<u32>, from: Option<&str>| BadgeFacts {
            rank,
            water_from: from.map(String::from),
            ..Default::default()
        };
        let members = BTreeMap::from([
            ("naib".to_string(), f(Some(7), None)),
            ("child".to_string(), f(Some(500), Some("naib"))),
            ("grandchild".to_string(), f(None, Some("child"))),
            ("outsider".to_string(), f(Some(8), None)),
            ("orphan".to_string(), f(None, Some("outsider"))),
            ("loop_a".to_string(), f(None, Some("loop_b"))),
            ("loop_b".to_string(), f(None, Some("loop_a"))),
        ]);
        let badges = badges_for(Theme::Sietch, &members);
        let sharer = |m: &str| badges[m].contains(&"water_sharer");
        assert!(sharer("naib") && sharer("child") && sharer("grandchild"));
        assert!(!sharer("outsider") && !sharer("orphan") && !sharer("loop_a") && !sharer("loop_b"));
    }
}
