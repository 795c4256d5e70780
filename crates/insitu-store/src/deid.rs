//! Tables and queries for the deid area.

use crate::migrate::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[];
