//! The strategies in an operator's words: what a channel strategy creates (REVIEW and
//! `/arrakis migrate` show it) and what a migration strategy does (the migrate panel's select,
//! its text and the answer to Start).

use arrakis_schemas::{
    ChannelPlan, ChannelStrategy, Theme,
    workflows::migration::{MigrationStrategy, conviction_thresholds},
};

/// What a channel strategy creates; `plan` is the manifest's own plan, which `custom` keeps.
pub fn channel_strategy(strategy: ChannelStrategy, plan: &ChannelPlan) -> String {
    match strategy {
        ChannelStrategy::None => "none: Arrakis makes no channels".into(),
        ChannelStrategy::AdditiveOnly => {
            let [(lounge, _, at), (diamond, _, top)] = conviction_thresholds(Theme::Basic);
            format!(
                "additive_only: only what the incumbent cannot offer, #{lounge} (score ≥ {at}) and #{diamond} (≥ {top})"
            )
        }
        ChannelStrategy::ParallelMirror => {
            "parallel_mirror: an arrakis-… copy of each of the incumbent's gated channels, for the arrakis-* roles"
                .into()
        }
        ChannelStrategy::Custom => {
            let channels: usize = plan.categories.iter().map(|c| c.channels.len()).sum();
            format!("custom: your {} categories and {channels} channels", plan.categories.len())
        }
    }
}

/// What a migration strategy does, over `days` when it is gradual.
pub fn migration_strategy(strategy: MigrationStrategy, days: u32) -> String {
    match strategy {
        MigrationStrategy::Instant => "everyone at once, then Arrakis leads (primary mode)".into(),
        MigrationStrategy::Gradual => {
            format!("new members at once, existing members in batches over {days} day(s), then Arrakis leads")
        }
        MigrationStrategy::ParallelForever => "both bots for good: Arrakis's roles beside the incumbent's".into(),
        MigrationStrategy::ArrakisPrimary => "Arrakis leads at once; the incumbent's roles stay as a fallback".into(),
    }
}

/// A migration strategy's label in the panel's select.
pub fn migration_strategy_label(strategy: MigrationStrategy) -> &'static str {
    match strategy {
        MigrationStrategy::Gradual => "Gradual: in batches over days",
        MigrationStrategy::Instant => "Instant: everyone now",
        MigrationStrategy::ArrakisPrimary => "Arrakis primary: lead now, incumbent as fallback",
        MigrationStrategy::ParallelForever => "Parallel forever: both bots",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrakis_schemas::{Category, Channel, ChannelKind};

    #[test]
    fn each_channel_strategy_says_what_it_creates() {
        let plan = ChannelPlan::default();
        assert!(channel_strategy(ChannelStrategy::AdditiveOnly, &plan).contains("#conviction-lounge (score ≥ 80)"));
        assert!(channel_strategy(ChannelStrategy::ParallelMirror, &plan).contains("copy"));
        assert_eq!(channel_strategy(ChannelStrategy::Custom, &plan), "custom: your 0 categories and 0 channels");
        assert!(channel_strategy(ChannelStrategy::None, &plan).starts_with("none"));
        let channel =
            Channel { key: "c".into(), name: "c".into(), kind: ChannelKind::Text, topic: None, visible_to: vec![] };
        let category = Category {
            key: "k".into(),
            name: "K".into(),
            visible_to: vec![],
            channels: vec![channel.clone(), channel],
        };
        let plan = ChannelPlan { strategy: ChannelStrategy::Custom, categories: vec![category] };
        assert_eq!(channel_strategy(ChannelStrategy::Custom, &plan), "custom: your 1 categories and 2 channels");
    }

    #[test]
    fn a_gradual_migration_says_over_how_many_days() {
        assert!(migration_strategy(MigrationStrategy::Gradual, 14).contains("over 14 day(s)"));
        assert!(migration_strategy(MigrationStrategy::Instant, 0).contains("everyone at once"));
    }
}
