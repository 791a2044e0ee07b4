//! Logging for agents: `tracing` events go to stderr, to `HA_LOGFILE` and (at debug level)
//! to `HA_DEBUGFILE` when those are set. Stdout is never written: it carries meta-data only.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer, Registry, fmt};

use crate::env::OcfEnv;

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn file_layer(path: Option<&String>, level: LevelFilter) -> Option<BoxedLayer> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path?)
        .ok()?;
    Some(
        fmt::layer()
            .with_ansi(false)
            .with_target(false)
            .with_writer(Mutex::new(file))
            .with_filter(level)
            .boxed(),
    )
}

/// Install the agent's subscriber. Called once, by [`crate::dispatch::main`].
pub fn init(env: &OcfEnv) {
    let stderr_level = if env.debug {
        LevelFilter::DEBUG
    } else {
        LevelFilter::INFO
    };
    let mut layers: Vec<BoxedLayer> = vec![
        fmt::layer()
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .with_writer(std::io::stderr)
            .with_filter(stderr_level)
            .boxed(),
    ];
    layers.extend(file_layer(env.ha_logfile.as_ref(), LevelFilter::INFO));
    layers.extend(file_layer(env.ha_debugfile.as_ref(), LevelFilter::DEBUG));
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layers));
}
