//! The actions an agent can be asked to perform.

use std::fmt;

/// An OCF action, as named on the agent's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Start the resource (unpromoted).
    Start,
    /// Stop the resource; nothing of it may remain.
    Stop,
    /// Report the resource's state (also `status`, the LSB spelling).
    Monitor,
    /// Print the meta-data XML.
    MetaData,
    /// Check the configuration.
    ValidateAll,
    /// Promote to the primary role.
    Promote,
    /// Demote to the unpromoted role.
    Demote,
    /// Receive a clone notification.
    Notify,
    /// Live-migrate away from this node.
    MigrateTo,
    /// Complete a live migration onto this node.
    MigrateFrom,
    /// Reload the service's configuration.
    Reload,
    /// Print usage.
    Usage,
    /// List supported actions.
    Methods,
}

impl Action {
    /// Every action, in the order usage lines list them.
    pub const ALL: [Action; 13] = [
        Action::Start,
        Action::Stop,
        Action::Monitor,
        Action::MetaData,
        Action::ValidateAll,
        Action::Promote,
        Action::Demote,
        Action::Notify,
        Action::MigrateTo,
        Action::MigrateFrom,
        Action::Reload,
        Action::Usage,
        Action::Methods,
    ];

    /// Parse an action name; `status` is monitor.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "monitor" | "status" => Action::Monitor,
            "meta-data" | "meta_data" => Action::MetaData,
            "validate-all" => Action::ValidateAll,
            "promote" => Action::Promote,
            "demote" => Action::Demote,
            "notify" => Action::Notify,
            "migrate_to" => Action::MigrateTo,
            "migrate_from" => Action::MigrateFrom,
            "reload" => Action::Reload,
            "usage" | "help" => Action::Usage,
            "methods" => Action::Methods,
            _ => return None,
        })
    }

    /// The name as the OCF spec and the ra-api-1.dtd spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::MetaData => "meta-data",
            Action::ValidateAll => "validate-all",
            Action::Promote => "promote",
            Action::Demote => "demote",
            Action::Notify => "notify",
            Action::MigrateTo => "migrate_to",
            Action::MigrateFrom => "migrate_from",
            Action::Reload => "reload",
            Action::Usage => "usage",
            Action::Methods => "methods",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
