//! Tables and queries for the runs area.

use crate::migrate::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[];
