//! The typed configuration model that lowering produces.
//!
//! Every typed struct keeps the [`ElementId`] of the element it came from, so that tools can
//! locate it and edit the lossless tree. Options and meta-attributes keep their raw name/value
//! pairs next to the typed fields: nothing read is thrown away.
use std::fmt;

use crate::score::Score;
use crate::status::Status;
use crate::tree::ElementId;

macro_rules! newtype {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub String);

        impl $name {
            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $name(s.to_owned())
            }
        }
    };
}

newtype!(
    /// The `id` of a resource (primitive, group, clone or template).
    ResourceId
);
newtype!(
    /// A node's name (`uname`), which is how constraints and the status refer to nodes.
    NodeName
);

/// A resource role. Legacy `Master`/`Slave` are read as `Promoted`/`Unpromoted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Not running.
    Stopped,
    /// Running (for promotable clones: unpromoted or not yet known).
    Started,
    /// Running as the unpromoted instance of a promotable clone.
    Unpromoted,
    /// Running promoted.
    Promoted,
}

impl Role {
    /// Parse a role name as Pacemaker does (case-insensitive, legacy names allowed).
    pub fn parse(s: &str) -> Option<Role> {
        let l = s.trim().to_ascii_lowercase();
        Some(match l.as_str() {
            "stopped" => Role::Stopped,
            "started" => Role::Started,
            "unpromoted" | "slave" => Role::Unpromoted,
            "promoted" | "master" => Role::Promoted,
            _ => return None,
        })
    }

    /// Whether the role means the resource is active.
    pub fn is_active(self) -> bool {
        self != Role::Stopped
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Stopped => "Stopped",
            Role::Started => "Started",
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        })
    }
}

/// One `<nvpair>` (or `<op>`-level attribute) as read, value unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvPair {
    /// The pair's `id`, if any.
    pub id: Option<String>,
    /// Option or attribute name.
    pub name: String,
    /// Value as written (`None` when the attribute is absent, e.g. for unset requests).
    pub value: Option<String>,
    /// Where it came from.
    pub element: ElementId,
}

/// An `<instance_attributes>`, `<meta_attributes>`, `<utilization>` or
/// `<cluster_property_set>` block (after resolving `id-ref`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeSet {
    /// The set's `id` (or the `id-ref` target).
    pub id: Option<String>,
    /// Precedence among sets of the same kind: higher first.
    pub score: Score,
    /// A rule that must hold for the set to apply; `None` means always.
    pub rule: Option<Rule>,
    /// The pairs, in order.
    pub pairs: Vec<NvPair>,
    /// Where it came from.
    pub element: ElementId,
}

/// A list of attribute sets with Pacemaker's precedence: sets sorted by score (stable), the
/// first value found wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// The sets, already sorted by descending score.
    pub sets: Vec<AttributeSet>,
}

impl Attributes {
    /// The value of `name` from the sets without a rule (rules need a node and a time, which
    /// the scheduler supplies).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_pair(name).and_then(|p| p.value.as_deref())
    }

    /// The winning unconditional pair named `name`.
    pub fn get_pair(&self, name: &str) -> Option<&NvPair> {
        self.sets
            .iter()
            .filter(|s| s.rule.is_none())
            .flat_map(|s| s.pairs.iter())
            .find(|p| p.name == name)
    }

    /// Every pair of every set, in precedence order.
    pub fn pairs(&self) -> impl Iterator<Item = &NvPair> {
        self.sets.iter().flat_map(|s| s.pairs.iter())
    }

    /// Whether there are no sets.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

/// What to do without quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoQuorumPolicy {
    /// Stop everything in the partition (default).
    Stop,
    /// Carry on.
    Ignore,
    /// Keep running what runs, start nothing.
    Freeze,
    /// Demote promoted instances, stop the rest.
    Demote,
    /// Fence every node of the partition (`suicide` is the legacy name).
    Fence,
}

/// How utilization is taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementStrategy {
    /// Ignore utilization (default).
    Default,
    /// Capacity must suffice.
    Utilization,
    /// Capacity must suffice; fill nodes by priority, fewest nodes.
    Minimal,
    /// Capacity must suffice; spread load.
    Balanced,
}

/// Cluster options from `<crm_config>`, both Pacemaker 2.1 and 3.0 spellings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// `no-quorum-policy`.
    pub no_quorum_policy: NoQuorumPolicy,
    /// `fencing-enabled` / `stonith-enabled` (default true).
    pub fencing_enabled: bool,
    /// `symmetric-cluster` (default true).
    pub symmetric_cluster: bool,
    /// `placement-strategy`.
    pub placement_strategy: PlacementStrategy,
    /// `maintenance-mode`.
    pub maintenance_mode: bool,
    /// `stop-all-resources`.
    pub stop_all_resources: bool,
    /// `start-failure-is-fatal` (default true).
    pub start_failure_is_fatal: bool,
    /// `fencing-timeout` / `stonith-timeout` in ms (default 60 s).
    pub fencing_timeout_ms: u64,
    /// `priority-fencing-delay` in ms (default 0).
    pub priority_fencing_delay_ms: u64,
    /// `fencing-action` / `stonith-action` (default `reboot`).
    pub fencing_action: String,
    /// Every `cluster_property_set`, for options not typed here.
    pub raw: Attributes,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            no_quorum_policy: NoQuorumPolicy::Stop,
            fencing_enabled: true,
            symmetric_cluster: true,
            placement_strategy: PlacementStrategy::Default,
            maintenance_mode: false,
            stop_all_resources: false,
            start_failure_is_fatal: true,
            fencing_timeout_ms: 60_000,
            priority_fencing_delay_ms: 0,
            fencing_action: "reboot".into(),
            raw: Attributes::default(),
        }
    }
}

/// A cluster node from `<nodes>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's `id` (Corosync node id as text).
    pub id: String,
    /// The node's name.
    pub uname: NodeName,
    /// Permanent node attributes (`instance_attributes`).
    pub attributes: Attributes,
    /// Capacity (`utilization`).
    pub utilization: Attributes,
    /// Whether the permanent `standby` attribute is set true.
    pub standby: bool,
    /// Whether the permanent `maintenance` attribute is set true.
    pub maintenance: bool,
    /// Where it came from.
    pub element: ElementId,
}

/// Failure handling of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFail {
    /// Pretend it succeeded.
    Ignore,
    /// Leave the resource alone, unmanaged.
    Block,
    /// Stop it and leave it stopped.
    Stop,
    /// Demote (promotable only).
    Demote,
    /// Stop and start again (default for most actions).
    Restart,
    /// Fence the node.
    Fence,
    /// Put the node in standby.
    Standby,
    /// Restart the container (guest resources).
    RestartContainer,
    /// Reset the remote connection.
    ResetRemote,
}

impl OnFail {
    fn parse(s: &str) -> Option<OnFail> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "ignore" => OnFail::Ignore,
            "block" => OnFail::Block,
            "stop" => OnFail::Stop,
            "demote" => OnFail::Demote,
            "restart" => OnFail::Restart,
            "fence" | "stonith" => OnFail::Fence,
            "standby" => OnFail::Standby,
            "restart-container" => OnFail::RestartContainer,
            "reset-remote" => OnFail::ResetRemote,
            _ => return None,
        })
    }

    pub(crate) fn from_str_opt(s: &str) -> Option<OnFail> {
        OnFail::parse(s)
    }
}

/// An `<op>` of a primitive or template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The op's `id`.
    pub id: String,
    /// Action name (`monitor`, `start`, ...).
    pub name: String,
    /// `interval` in ms (0 = one-shot).
    pub interval_ms: u64,
    /// `timeout` in ms, if set on the op (op_defaults apply otherwise).
    pub timeout_ms: Option<u64>,
    /// `on-fail`.
    pub on_fail: Option<OnFail>,
    /// `role` the op applies to.
    pub role: Option<Role>,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `meta_attributes`/`instance_attributes` of the op (e.g. `OCF_CHECK_LEVEL`).
    pub attributes: Attributes,
    /// Only the op's `instance_attributes`: parameters this operation adds to the
    /// resource's (Pacemaker puts them in the operation's digest).
    pub params: Attributes,
    /// XML attributes not typed above (`start-delay`, `interval-origin`,
    /// `record-pending`, `description`, ...), as written.
    pub other: Vec<(String, String)>,
    /// Where it came from.
    pub element: ElementId,
}

/// `requires` meta-attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requires {
    /// Can always start.
    Nothing,
    /// Needs quorum.
    Quorum,
    /// Needs quorum and unclean nodes fenced.
    Fencing,
    /// Needs the node unfenced.
    Unfencing,
}

/// `multiple-active` meta-attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipleActive {
    /// Leave it unmanaged.
    Block,
    /// Stop all copies.
    StopOnly,
    /// Stop all copies, start one (default).
    StopStart,
    /// Stop the unexpected copies only.
    StopUnexpected,
}

/// The resource meta-attributes crm-lite knows, typed; `None` = unset (defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// `target-role`.
    pub target_role: Option<Role>,
    /// `is-managed`.
    pub is_managed: Option<bool>,
    /// `maintenance`.
    pub maintenance: Option<bool>,
    /// `resource-stickiness`.
    pub resource_stickiness: Option<Score>,
    /// `migration-threshold` (0 disables).
    pub migration_threshold: Option<Score>,
    /// `failure-timeout` in ms.
    pub failure_timeout_ms: Option<u64>,
    /// `priority`.
    pub priority: Option<Score>,
    /// `allow-migrate`.
    pub allow_migrate: Option<bool>,
    /// `requires`.
    pub requires: Option<Requires>,
    /// `multiple-active`.
    pub multiple_active: Option<MultipleActive>,
    /// `critical`.
    pub critical: Option<bool>,
    /// `clone-max`.
    pub clone_max: Option<u32>,
    /// `clone-node-max`.
    pub clone_node_max: Option<u32>,
    /// `clone-min`.
    pub clone_min: Option<u32>,
    /// `promoted-max` (legacy `master-max`).
    pub promoted_max: Option<u32>,
    /// `promoted-node-max` (legacy `master-node-max`).
    pub promoted_node_max: Option<u32>,
    /// `notify`.
    pub notify: Option<bool>,
    /// `interleave`.
    pub interleave: Option<bool>,
    /// `ordered`.
    pub ordered: Option<bool>,
    /// `globally-unique`.
    pub globally_unique: Option<bool>,
    /// `promotable` (on a `<clone>`).
    pub promotable: Option<bool>,
    /// All meta-attribute sets as read.
    pub raw: Attributes,
}

/// A `<primitive>` (or a `<template>`, which has the same shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Primitive {
    /// The resource id.
    pub id: ResourceId,
    /// `class` (`ocf`, `stonith`, `systemd`, ...), after applying a template.
    pub class: String,
    /// `provider` (OCF only).
    pub provider: Option<String>,
    /// `type`: the agent name.
    pub agent: String,
    /// The `template` this primitive is based on.
    pub template: Option<ResourceId>,
    /// `instance_attributes`: the agent's parameters.
    pub params: Attributes,
    /// `meta_attributes`, typed.
    pub meta: Meta,
    /// `utilization`.
    pub utilization: Attributes,
    /// `<operations>`.
    pub ops: Vec<Op>,
    /// Where it came from.
    pub element: ElementId,
}

impl Primitive {
    /// Whether this is a fencing device.
    pub fn is_fencing(&self) -> bool {
        self.class == "stonith"
    }
}

/// A `<group>`: members start in order and run together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group id.
    pub id: ResourceId,
    /// Group meta-attributes (inherited by members).
    pub meta: Meta,
    /// Group `instance_attributes` (inherited by members).
    pub params: Attributes,
    /// Members in order.
    pub members: Vec<Primitive>,
    /// Where it came from.
    pub element: ElementId,
}

/// A `<clone>` (promotable or not) or legacy `<master>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clone {
    /// The clone id.
    pub id: ResourceId,
    /// Clone meta-attributes.
    pub meta: Meta,
    /// Clone `instance_attributes` (inherited by the child).
    pub params: Attributes,
    /// Whether instances can be promoted (`promotable=true` or `<master>`).
    pub promotable: bool,
    /// Whether this was written as the legacy `<master>` element.
    pub legacy_master: bool,
    /// The cloned resource (a primitive or a group).
    pub child: Box<Resource>,
    /// Where it came from.
    pub element: ElementId,
}

/// A top-level or nested resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A single agent instance.
    Primitive(Primitive),
    /// An ordered, colocated list of primitives.
    Group(Group),
    /// Copies of a primitive or group.
    Clone(Clone),
}

impl Resource {
    /// The resource id.
    pub fn id(&self) -> &ResourceId {
        match self {
            Resource::Primitive(p) => &p.id,
            Resource::Group(g) => &g.id,
            Resource::Clone(c) => &c.id,
        }
    }

    /// The meta-attributes.
    pub fn meta(&self) -> &Meta {
        match self {
            Resource::Primitive(p) => &p.meta,
            Resource::Group(g) => &g.meta,
            Resource::Clone(c) => &c.meta,
        }
    }

    /// The element it came from.
    pub fn element(&self) -> ElementId {
        match self {
            Resource::Primitive(p) => p.element,
            Resource::Group(g) => g.element,
            Resource::Clone(c) => c.element,
        }
    }

    /// Every primitive in this resource, in document order.
    pub fn primitives(&self) -> Vec<&Primitive> {
        match self {
            Resource::Primitive(p) => vec![p],
            Resource::Group(g) => g.members.iter().collect(),
            Resource::Clone(c) => c.child.primitives(),
        }
    }
}

/// How expressions of a rule combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BooleanOp {
    /// All must hold (default).
    And,
    /// One must hold.
    Or,
}

/// A node-attribute comparison (`<expression>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expression {
    /// The expression id.
    pub id: Option<String>,
    /// Node attribute name (`#uname`, `#id`, `#kind`, ... or a user attribute).
    pub attribute: String,
    /// `lt`, `gt`, `lte`, `gte`, `eq`, `ne`, `defined`, `not_defined`.
    pub operation: String,
    /// The value to compare with.
    pub value: Option<String>,
    /// `string`, `integer`, `number` or `version`.
    pub value_type: Option<String>,
    /// `literal` or `param`/`meta` (take the value from the resource).
    pub value_source: Option<String>,
    /// Where it came from.
    pub element: ElementId,
}

/// A `<date_expression>`: its attributes and `date_spec`/`duration` kept as raw pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateExpression {
    /// The expression id.
    pub id: Option<String>,
    /// `in_range`, `gt`, `lt` or `date_spec`.
    pub operation: String,
    /// `start`.
    pub start: Option<String>,
    /// `end`.
    pub end: Option<String>,
    /// Attributes of `<date_spec>` or `<duration>`, if present.
    pub spec: Vec<(String, String)>,
    /// Where it came from.
    pub element: ElementId,
}

/// One condition in a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Node attribute test.
    Expression(Expression),
    /// Time test.
    Date(DateExpression),
    /// Nested rule.
    Rule(Rule),
}

/// A `<rule>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The rule id.
    pub id: Option<String>,
    /// `score` (location rules).
    pub score: Option<Score>,
    /// `score-attribute`: take the score from this node attribute.
    pub score_attribute: Option<String>,
    /// `role` (location rules).
    pub role: Option<Role>,
    /// `boolean-op`.
    pub boolean_op: BooleanOp,
    /// The conditions.
    pub conditions: Vec<Condition>,
    /// Where it came from.
    pub element: ElementId,
}

/// A `<resource_set>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSet {
    /// The set id.
    pub id: Option<String>,
    /// `sequential` (default true).
    pub sequential: bool,
    /// `require-all` (default true).
    pub require_all: bool,
    /// `role`.
    pub role: Option<Role>,
    /// `action`.
    pub action: Option<String>,
    /// `score`.
    pub score: Option<Score>,
    /// `kind` of an ordering set (deprecated; the constraint's kind otherwise).
    pub kind: Option<String>,
    /// `ordering` (deprecated: `group` or `listed`).
    pub ordering: Option<String>,
    /// Members in order.
    pub members: Vec<ResourceId>,
    /// Where it came from.
    pub element: ElementId,
}

/// `resource-discovery` of a location constraint, ordered as Pacemaker ranks them when
/// several constraints name one node (the greater wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ResourceDiscovery {
    /// Probe everywhere (default).
    Always,
    /// Never probe on the matching nodes.
    Never,
    /// Probe only on nodes with an `exclusive` constraint.
    Exclusive,
}

/// `rsc_location`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Constraint id.
    pub id: String,
    /// `rsc`.
    pub rsc: Option<ResourceId>,
    /// `rsc-pattern` (a regular expression over resource ids).
    pub rsc_pattern: Option<String>,
    /// Resource sets instead of `rsc`.
    pub sets: Vec<ResourceSet>,
    /// `node`.
    pub node: Option<NodeName>,
    /// `score`.
    pub score: Option<Score>,
    /// `role`.
    pub role: Option<Role>,
    /// `<rule>`s.
    pub rules: Vec<Rule>,
    /// `resource-discovery`.
    pub resource_discovery: ResourceDiscovery,
    /// Where it came from.
    pub element: ElementId,
}

/// `rsc_colocation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Colocation {
    /// Constraint id.
    pub id: String,
    /// `score`.
    pub score: Score,
    /// `rsc` (placed relative to `with_rsc`).
    pub rsc: Option<ResourceId>,
    /// `with-rsc`.
    pub with_rsc: Option<ResourceId>,
    /// `rsc-role`.
    pub rsc_role: Option<Role>,
    /// `with-rsc-role`.
    pub with_rsc_role: Option<Role>,
    /// `node-attribute` (default `#uname`).
    pub node_attribute: Option<String>,
    /// `influence`.
    pub influence: Option<bool>,
    /// Resource sets instead of `rsc`/`with-rsc`.
    pub sets: Vec<ResourceSet>,
    /// Where it came from.
    pub element: ElementId,
}

/// `kind` of an order constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// `then` needs `first` (default).
    Mandatory,
    /// Only if both happen in the same transition.
    Optional,
    /// Never at the same time, either order.
    Serialize,
}

/// `rsc_order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Constraint id.
    pub id: String,
    /// `first`.
    pub first: Option<ResourceId>,
    /// `then`.
    pub then: Option<ResourceId>,
    /// `first-action` (default `start`).
    pub first_action: String,
    /// `then-action` (default: `first-action`).
    pub then_action: String,
    /// `kind` (a legacy `score` is mapped: 0 = Optional, else Mandatory).
    pub kind: OrderKind,
    /// `symmetrical` (default true except for Serialize).
    pub symmetrical: bool,
    /// `require-all` (default true; false: any instance of a `first` clone suffices).
    pub require_all: bool,
    /// Resource sets instead of `first`/`then`.
    pub sets: Vec<ResourceSet>,
    /// Where it came from.
    pub element: ElementId,
}

/// A `<fencing-level>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencingLevel {
    /// Level id.
    pub id: String,
    /// `index` (1 is tried first).
    pub index: u32,
    /// `target` node, `target-pattern` or `target-attribute`=`target-value`, as written.
    pub target: String,
    /// `devices`, split on commas.
    pub devices: Vec<ResourceId>,
    /// Where it came from.
    pub element: ElementId,
}

/// An `<alert>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Alert id.
    pub id: String,
    /// The agent `path`.
    pub path: String,
    /// `<recipient value>`s.
    pub recipients: Vec<String>,
    /// The alert's `meta_attributes` (timeout, timestamp-format, ...).
    pub meta: Attributes,
    /// The alert's `instance_attributes` (passed to the agent).
    pub params: Attributes,
    /// The `<select>` children (`select_nodes`, `select_attributes`, ...), by element name.
    pub select: Vec<String>,
    /// The `name`s of the `<attribute>`s under `<select_attributes>`: only these
    /// attributes are alerted (all of them when empty).
    pub select_attributes: Vec<String>,
    /// Where it came from.
    pub element: ElementId,
}

/// The CIB's version counters. A CIB with a lower tuple loses to one with a higher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Versions {
    /// `admin_epoch`.
    pub admin_epoch: u64,
    /// `epoch`.
    pub epoch: u64,
    /// `num_updates`.
    pub num_updates: u64,
}

/// The lowered CIB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cib {
    /// Version counters from the root.
    pub versions: Versions,
    /// `validate-with`.
    pub validate_with: Option<String>,
    /// `have-quorum`.
    pub have_quorum: Option<bool>,
    /// `no-quorum-panic`: the partition had quorum and lost it (no-quorum-policy=suicide
    /// then fences it); a partition that never had quorum does not.
    pub no_quorum_panic: bool,
    /// `dc-uuid`.
    pub dc_uuid: Option<String>,
    /// Cluster options.
    pub options: ClusterOptions,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Top-level resources in document order.
    pub resources: Vec<Resource>,
    /// `<template>`s.
    pub templates: Vec<Primitive>,
    /// `rsc_defaults` meta-attributes.
    pub rsc_defaults: Attributes,
    /// `op_defaults` meta-attributes.
    pub op_defaults: Attributes,
    /// `rsc_location` constraints.
    pub locations: Vec<Location>,
    /// `rsc_colocation` constraints.
    pub colocations: Vec<Colocation>,
    /// `rsc_order` constraints.
    pub orders: Vec<Order>,
    /// Fencing topology levels.
    pub fencing_levels: Vec<FencingLevel>,
    /// Alerts.
    pub alerts: Vec<Alert>,
    /// The status section.
    pub status: Status,
}

impl Cib {
    /// Every primitive, in document order (group members and clone children included).
    pub fn primitives(&self) -> impl Iterator<Item = &Primitive> {
        self.resources.iter().flat_map(|r| r.primitives())
    }

    /// Whether a resource (at any depth: group members and clone children included) has `id`.
    pub fn has_resource(&self, id: &str) -> bool {
        fn walk(r: &Resource, id: &str) -> bool {
            r.id().as_str() == id
                || match r {
                    Resource::Primitive(_) => false,
                    Resource::Group(g) => g.members.iter().any(|m| m.id.as_str() == id),
                    Resource::Clone(c) => walk(&c.child, id),
                }
        }
        self.resources.iter().any(|r| walk(r, id))
    }

    /// Find a node by name.
    pub fn node(&self, uname: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.uname.as_str() == uname)
    }
}
