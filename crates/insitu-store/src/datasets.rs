//! Tables and queries for the datasets area.

use crate::migrate::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[];
