//! Tables and queries for the release area.

use crate::migrate::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[];
