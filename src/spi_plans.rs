//! SPI plans prepared once per backend and kept for its lifetime.
//!
//! Hot paths must not re-plan per call. Each statement is identified by a
//! static key, prepared on first use with `SPI_prepare` + `SPI_keepplan`, and
//! reused afterwards. Postgres' plan cache still revalidates a kept plan when
//! the objects it references change (e.g. `DROP EXTENSION`/`CREATE EXTENSION`
//! in the same backend), so a stale plan can never run against a new table.

use crate::errors::Result;
use pgrx::pg_sys::{self, PgOid};
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use std::cell::RefCell;
use std::collections::HashMap;

/// A statement the extension runs: its text and parameter types.
pub struct Statement {
    pub key: &'static str,
    pub sql: &'static str,
    pub args: &'static [pg_sys::Oid],
    /// false for plain reads: they then run read-only under the caller's snapshot
    /// (which is what lets them work on a hot standby).
    pub mutating: bool,
}

thread_local! {
    // Plans are leaked on purpose: they live as long as the backend, and handing
    // out `&'static` avoids holding the RefCell borrow while a plan executes
    // (execution can re-enter this module through triggers).
    static PLANS: RefCell<HashMap<&'static str, &'static OwnedPreparedStatement>> =
        RefCell::new(HashMap::new());
}

/// The kept plan for `stmt`, preparing it on first use.
pub fn plan(client: &SpiClient<'_>, stmt: &Statement) -> Result<&'static OwnedPreparedStatement> {
    if let Some(p) = PLANS.with(|m| m.borrow().get(stmt.key).copied()) {
        return Ok(p);
    }
    let oids: Vec<PgOid> = stmt.args.iter().map(|o| PgOid::from(*o)).collect();
    let prepared = if stmt.mutating {
        client.prepare_mut(stmt.sql, &oids)?
    } else {
        client.prepare(stmt.sql, &oids)?
    };
    let kept: &'static OwnedPreparedStatement = Box::leak(Box::new(prepared.keep()));
    PLANS.with(|m| m.borrow_mut().insert(stmt.key, kept));
    Ok(kept)
}
