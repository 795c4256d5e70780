//! Tables and queries for jobs pulled from a hub by the appliance agent.

use crate::migrate::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[];
