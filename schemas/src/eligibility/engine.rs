//! The eligibility engine: a manifest's condition trees over a member's facts, in three-valued
//! (Kleene) logic, with the architecture's degradation matrix for score-derived conditions.

use super::{BaseUnits, Holding, MemberFacts, RankFact, ScoreSource, Verdict};
use crate::{AssetKind, CommunityManifest, Condition, Limits, RoleGrant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A verdict with the sources it rests on and what degraded on the way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evaluation {
    /// The answer (`"verdict": "unknown", "reason": …` in JSON).
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Score sources consulted (empty when only the chain decided).
    #[serde(default)]
    pub sources: BTreeSet<ScoreSource>,
    /// Each fallback taken, in an operator's words.
    #[serde(default)]
    pub degraded: Vec<String>,
}

/// One role's verdict for one member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleVerdict {
    /// The manifest's role key.
    pub role: String,
    /// Whether the member should hold it.
    #[serde(flatten)]
    pub evaluation: Evaluation,
}

/// Evaluates one condition of `manifest` for a member.
pub fn evaluate(manifest: &CommunityManifest, condition: &Condition, facts: &MemberFacts) -> Evaluation {
    let mut ctx = Ctx { manifest, facts, sources: BTreeSet::new(), degraded: Vec::new() };
    let verdict = ctx.eval(condition, 0);
    Evaluation { verdict, sources: ctx.sources, degraded: ctx.degraded }
}

/// Evaluates every role of `manifest`, in manifest order. Tier roles rank members by the
/// manifest's first asset; a rank nobody can read makes a tier `unknown`, never a loss.
pub fn evaluate_roles(manifest: &CommunityManifest, facts: &MemberFacts) -> Vec<RoleVerdict> {
    manifest
        .roles
        .iter()
        .map(|role| {
            let evaluation = match &role.grant {
                RoleGrant::Rule(key) => evaluate(manifest, &Condition::Rule(key.clone()), facts),
                RoleGrant::Tier(tier) => tier_evaluation(manifest, tier, facts),
                RoleGrant::Badge(badge) => badge_evaluation(badge, facts),
            };
            RoleVerdict { role: role.key.clone(), evaluation }
        })
        .collect()
}

fn tier_evaluation(manifest: &CommunityManifest, tier: &str, facts: &MemberFacts) -> Evaluation {
    let mut sources = BTreeSet::new();
    let rank = manifest.assets.first().and_then(|a| facts.ranks.get(&a.key));
    let verdict = match rank {
        Some(RankFact::Ranked { position, source, .. }) => {
            sources.insert(*source);
            let band = manifest.theme.spec().tier_for_rank(*position);
            if band.is_some_and(|b| b.key == tier) { Verdict::Eligible } else { Verdict::NotEligible }
        }
        Some(RankFact::Unranked { source }) => {
            sources.insert(*source);
            Verdict::NotEligible
        }
        Some(RankFact::NoWallet) => Verdict::NotEligible,
        Some(RankFact::Unavailable { reason }) => Verdict::Unknown { reason: format!("tier '{tier}': {reason}") },
        None => Verdict::Unknown { reason: format!("tier '{tier}': no rank was read") },
    };
    Evaluation { verdict, sources, degraded: Vec::new() }
}

/// A badge role follows the badge like a tier role follows the tier; a badge nobody could
/// decide is `unknown`, never a loss.
fn badge_evaluation(badge: &str, facts: &MemberFacts) -> Evaluation {
    let verdict = match facts.badges.get(badge) {
        Some(true) => Verdict::Eligible,
        Some(false) => Verdict::NotEligible,
        None => Verdict::Unknown { reason: format!("badge '{badge}' was not decided") },
    };
    Evaluation { verdict, sources: BTreeSet::new(), degraded: Vec::new() }
}

struct Ctx<'a> {
    manifest: &'a CommunityManifest,
    facts: &'a MemberFacts,
    sources: BTreeSet<ScoreSource>,
    degraded: Vec<String>,
}

impl Ctx<'_> {
    fn eval(&mut self, condition: &Condition, depth: usize) -> Verdict {
        // Validated manifests have no cycles; the guard keeps an unvalidated one from looping.
        if depth > Limits::CONDITION_DEPTH_MAX * 4 {
            return unknown("rules nest too deep (a cycle?)");
        }
        match condition {
            Condition::MinBalance { asset, amount } => {
                let decimals = match self.manifest.assets.iter().find(|a| &a.key == asset) {
                    Some(a) if a.kind == AssetKind::Erc20 => a.decimals.unwrap_or(18),
                    Some(_) => 0,
                    None => return unknown(format!("no asset '{asset}'")),
                };
                match BaseUnits::from_display(amount, decimals) {
                    Ok(min) => self.holding(asset).at_least(&min),
                    Err(e) => unknown(format!("min_balance of '{asset}': {e}")),
                }
            }
            Condition::OwnsNft { asset, token_id: Some(id) } => {
                let erc1155 = self.manifest.assets.iter().any(|a| &a.key == asset && a.kind == AssetKind::Erc1155);
                let holding = if erc1155 {
                    self.holding(asset)
                } else {
                    self.facts
                        .tokens
                        .get(&MemberFacts::token_key(asset, id))
                        .cloned()
                        .unwrap_or_else(|| Holding::unknown(format!("ownership of {asset} #{id} was not read")))
                };
                holding.at_least(&one())
            }
            Condition::OwnsNft { asset, token_id: None } => self.holding(asset).at_least(&one()),
            Condition::RankAtMost { asset, rank } => self.rank(asset, *rank),
            Condition::ScoreAtLeast { asset, score } => self.score(asset, score),
            Condition::Rule(key) => match self.manifest.rules.get(key) {
                Some(inner) => self.eval(inner, depth + 1),
                None => unknown(format!("no rule '{key}'")),
            },
            Condition::AllOf(of) => {
                let verdicts: Vec<_> = of.iter().map(|c| self.eval(c, depth + 1)).collect();
                if verdicts.contains(&Verdict::NotEligible) {
                    Verdict::NotEligible
                } else {
                    first_unknown(&verdicts).unwrap_or(Verdict::Eligible)
                }
            }
            Condition::AnyOf(of) => {
                let verdicts: Vec<_> = of.iter().map(|c| self.eval(c, depth + 1)).collect();
                if verdicts.iter().any(Verdict::is_eligible) {
                    Verdict::Eligible
                } else {
                    first_unknown(&verdicts).unwrap_or(Verdict::NotEligible)
                }
            }
            Condition::AtLeast { n, of } => {
                let verdicts: Vec<_> = of.iter().map(|c| self.eval(c, depth + 1)).collect();
                let yes = verdicts.iter().filter(|v| v.is_eligible()).count();
                let maybe = verdicts.iter().filter(|v| matches!(v, Verdict::Unknown { .. })).count();
                let n = usize::try_from(*n).unwrap_or(usize::MAX);
                if yes >= n {
                    Verdict::Eligible
                } else if yes + maybe < n {
                    Verdict::NotEligible
                } else {
                    first_unknown(&verdicts).unwrap_or(Verdict::NotEligible)
                }
            }
        }
    }

    fn holding(&self, asset: &str) -> Holding {
        self.facts.holdings.get(asset).cloned().unwrap_or_else(|| Holding::unknown(format!("'{asset}' was not read")))
    }

    /// Rank thresholds: the Score Service, else its cache, else (permissively) any balance.
    fn rank(&mut self, asset: &str, rank: u32) -> Verdict {
        match self.facts.ranks.get(asset) {
            Some(RankFact::Ranked { position, source, .. }) => {
                self.sources.insert(*source);
                if *position <= rank { Verdict::Eligible } else { Verdict::NotEligible }
            }
            Some(RankFact::Unranked { source }) => {
                self.sources.insert(*source);
                Verdict::NotEligible
            }
            Some(RankFact::NoWallet) => Verdict::NotEligible,
            Some(RankFact::Unavailable { reason }) => {
                self.sources.insert(ScoreSource::NativeDegraded);
                self.degraded
                    .push(format!("rank of '{asset}' at most {rank}: {reason}; fell back to holding any '{asset}'"));
                self.holding(asset).at_least(&one())
            }
            None => unknown(format!("the rank of '{asset}' was not read")),
        }
    }
}

impl Ctx<'_> {
    /// Score thresholds: the Score Service, else its cache; no chain fallback, so an unreadable
    /// score is `unknown` (never a loss).
    fn score(&mut self, asset: &str, min: &str) -> Verdict {
        let Ok(min) = BaseUnits::from_display(min, 18) else { return unknown(format!("score threshold '{min}'")) };
        match self.facts.ranks.get(asset) {
            Some(RankFact::Ranked { source, score: Some(score), .. }) => {
                self.sources.insert(*source);
                match BaseUnits::from_display(score, 18) {
                    Ok(held) if held >= min => Verdict::Eligible,
                    Ok(_) => Verdict::NotEligible,
                    Err(_) => unknown(format!("the score of '{asset}' ('{score}') is not a number")),
                }
            }
            Some(RankFact::Ranked { score: None, .. }) => unknown(format!("the score of '{asset}' was not given")),
            Some(RankFact::Unranked { source }) => {
                self.sources.insert(*source);
                Verdict::NotEligible
            }
            Some(RankFact::NoWallet) => Verdict::NotEligible,
            Some(RankFact::Unavailable { reason }) => unknown(format!("the score of '{asset}': {reason}")),
            None => unknown(format!("the score of '{asset}' was not read")),
        }
    }
}

fn one() -> BaseUnits {
    BaseUnits::parse("1").unwrap_or_else(|_| BaseUnits::zero())
}

fn unknown(reason: impl Into<String>) -> Verdict {
    Verdict::Unknown { reason: reason.into() }
}

fn first_unknown(verdicts: &[Verdict]) -> Option<Verdict> {
    verdicts.iter().find(|v| matches!(v, Verdict::Unknown { .. })).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eligibility::ScoreSource::*;
    use serde_json::json;

    fn manifest() -> CommunityManifest {
        serde_json::from_value(json!({
            "guild_id": "1100000000000000001", "name": "Sietch", "theme": "basic", "mode": "exclusive",
            "chains": [31337],
            "assets": [
                {"key": "spice", "chain_id": 31337, "kind": "erc20", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "decimals": 18},
                {"key": "worm", "chain_id": 31337, "kind": "erc721", "address": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"},
                {"key": "water", "chain_id": 31337, "kind": "erc1155", "address": "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "token_id": "7"}
            ],
            "rules": {
                "holder": {"min_balance": {"asset": "spice", "amount": "1000.5"}},
                "rider": {"owns_nft": {"asset": "worm"}},
                "maker": {"owns_nft": {"asset": "worm", "token_id": "42"}},
                "wet": {"min_balance": {"asset": "water", "amount": "3"}},
                "both": {"all_of": [{"rule": "holder"}, {"rule": "rider"}]},
                "either": {"any_of": [{"rule": "holder"}, {"rule": "rider"}]},
                "two": {"at_least": {"n": 2, "of": [{"rule": "holder"}, {"rule": "rider"}, {"rule": "wet"}]}},
                "top": {"rank_at_most": {"asset": "spice", "rank": 10}}
            },
            "roles": [
                {"key": "holder", "name": "Holder", "grant": {"rule": "holder"}},
                {"key": "gold", "name": "Gold", "grant": {"tier": "gold"}}
            ]
        }))
        .expect("test manifest")
    }

    fn units(s: &str) -> Holding {
        Holding::known(BaseUnits::parse(s).expect("digits"))
    }

    fn facts(spice: Holding, worm: Holding, water: Holding) -> MemberFacts {
        let mut f = MemberFacts::default();
        f.holdings.insert("spice".into(), spice);
        f.holdings.insert("worm".into(), worm);
        f.holdings.insert("water".into(), water);
        f
    }

    fn verdict(rule: &str, f: &MemberFacts) -> Verdict {
        evaluate(&manifest(), &Condition::Rule(rule.into()), f).verdict
    }

    const HOLDER: &str = "1000500000000000000000";

    #[test]
    fn min_balance_is_exact_at_the_threshold() {
        let m = "1000499999999999999999";
        assert_eq!(verdict("holder", &facts(units(HOLDER), units("0"), units("0"))), Verdict::Eligible);
        assert_eq!(verdict("holder", &facts(units(m), units("0"), units("0"))), Verdict::NotEligible);
    }

    #[test]
    fn combinators_follow_three_valued_logic() {
        let unk = || Holding::unknown("rpc down");
        let all = facts(units(HOLDER), units("1"), units("3"));
        let none = facts(units("0"), units("0"), units("0"));
        assert_eq!(verdict("both", &all), Verdict::Eligible);
        assert_eq!(verdict("both", &facts(units(HOLDER), units("0"), units("0"))), Verdict::NotEligible);
        assert_eq!(verdict("either", &facts(units("0"), units("1"), units("0"))), Verdict::Eligible);
        assert_eq!(verdict("either", &none), Verdict::NotEligible);
        assert_eq!(verdict("two", &facts(units("0"), units("1"), units("3"))), Verdict::Eligible);
        assert_eq!(verdict("two", &facts(units("0"), units("1"), units("2"))), Verdict::NotEligible);
        // Unknown never turns into a definite no, and a definite answer ignores it when it can.
        assert!(matches!(verdict("both", &facts(units(HOLDER), unk(), units("0"))), Verdict::Unknown { .. }));
        assert_eq!(verdict("both", &facts(units("0"), unk(), units("0"))), Verdict::NotEligible);
        assert_eq!(verdict("either", &facts(units(HOLDER), unk(), units("0"))), Verdict::Eligible);
        assert!(matches!(verdict("either", &facts(units("0"), unk(), units("0"))), Verdict::Unknown { .. }));
        assert!(matches!(verdict("two", &facts(units("0"), units("1"), unk())), Verdict::Unknown { .. }));
        assert_eq!(verdict("two", &facts(units("0"), unk(), units("0"))), Verdict::NotEligible);
    }

    #[test]
    fn a_specific_token_is_read_from_ownership() {
        let mut f = facts(units("0"), units("3"), units("0"));
        assert!(matches!(verdict("maker", &f), Verdict::Unknown { .. }));
        f.tokens.insert(MemberFacts::token_key("worm", "42"), units("0"));
        assert_eq!(verdict("maker", &f), Verdict::NotEligible);
        f.tokens.insert(MemberFacts::token_key("worm", "42"), units("1"));
        assert_eq!(verdict("maker", &f), Verdict::Eligible);
    }

    #[test]
    fn rank_degrades_to_cache_then_to_any_balance_permissively_and_says_so() {
        let mut f = facts(units("5"), units("0"), units("0"));
        f.ranks.insert("spice".into(), RankFact::Ranked { position: 10, source: ScoreService, score: None });
        let e = evaluate(&manifest(), &Condition::Rule("top".into()), &f);
        assert_eq!((e.verdict, e.sources.into_iter().collect::<Vec<_>>()), (Verdict::Eligible, vec![ScoreService]));
        f.ranks.insert("spice".into(), RankFact::Ranked { position: 11, source: Cache, score: None });
        let e = evaluate(&manifest(), &Condition::Rule("top".into()), &f);
        assert_eq!((e.verdict, e.sources.into_iter().collect::<Vec<_>>()), (Verdict::NotEligible, vec![Cache]));
        f.ranks.insert("spice".into(), RankFact::Unavailable { reason: "score service down".into() });
        let e = evaluate(&manifest(), &Condition::Rule("top".into()), &f);
        assert_eq!(e.verdict, Verdict::Eligible);
        assert!(e.sources.contains(&NativeDegraded));
        assert!(e.degraded[0].contains("score service down"), "{:?}", e.degraded);
        f.holdings.insert("spice".into(), units("0"));
        assert_eq!(verdict("top", &f), Verdict::NotEligible);
    }

    #[test]
    fn a_score_threshold_is_exact_and_unknown_without_the_service() {
        let mut m = manifest();
        m.rules.insert("conviction".into(), Condition::ScoreAtLeast { asset: "spice".into(), score: "80".into() });
        let mut f = facts(units("5"), units("0"), units("0"));
        let v = |f: &MemberFacts| evaluate(&m, &Condition::Rule("conviction".into()), f).verdict;
        f.ranks
            .insert("spice".into(), RankFact::Ranked { position: 3, source: ScoreService, score: Some("80".into()) });
        assert_eq!(v(&f), Verdict::Eligible);
        f.ranks.insert("spice".into(), RankFact::Ranked { position: 3, source: Cache, score: Some("79.99".into()) });
        assert_eq!(v(&f), Verdict::NotEligible);
        f.ranks.insert("spice".into(), RankFact::Unavailable { reason: "down".into() });
        assert!(matches!(v(&f), Verdict::Unknown { .. }), "no permissive fallback for a score");
    }

    #[test]
    fn a_role_verdict_reads_flat_in_json() {
        let v = RoleVerdict {
            role: "top".into(),
            evaluation: Evaluation {
                verdict: Verdict::Unknown { reason: "rpc down".into() },
                sources: BTreeSet::from([Cache]),
                degraded: vec![],
            },
        };
        let json = serde_json::to_value(&v).expect("serializes");
        assert_eq!(
            json,
            json!({"role": "top", "verdict": "unknown", "reason": "rpc down", "sources": ["cache"], "degraded": []})
        );
        assert_eq!(serde_json::from_value::<RoleVerdict>(json).expect("round trip"), v);
    }

    #[test]
    fn tiers_rank_by_the_first_asset_and_never_fall_to_a_loss() {
        let mut f = facts(units(HOLDER), units("0"), units("0"));
        let gold = |f: &MemberFacts| evaluate_roles(&manifest(), f)[1].evaluation.verdict.clone();
        f.ranks.insert("spice".into(), RankFact::Ranked { position: 10, source: ScoreService, score: None });
        assert_eq!(gold(&f), Verdict::Eligible);
        f.ranks.insert("spice".into(), RankFact::Ranked { position: 11, source: ScoreService, score: None });
        assert_eq!(gold(&f), Verdict::NotEligible);
        f.ranks.insert("spice".into(), RankFact::Unavailable { reason: "down".into() });
        assert!(matches!(gold(&f), Verdict::Unknown { .. }));
    }
}
