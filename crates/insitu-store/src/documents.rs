//! Tables and queries for the documents area.

use crate::migrate::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[];
