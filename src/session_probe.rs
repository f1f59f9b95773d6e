//! The read on `validate_session`'s hot path, done without SPI: one probe of
//! the live-jti unique index and one heap fetch under the caller's snapshot.
//!
//! Through SPI the same lookup costs an executor start and end per call (plan
//! cache check, executor state, scan node, expression setup), which on the
//! benchmark was most of the distance between `validate_session` and the bare
//! indexed lookup (docs/benchmarks.md). Here the index is scanned with the
//! access-method API, exactly as the executor's index scan would: same
//! snapshot, same relation locks (AccessShareLock, held to transaction end),
//! same visibility rules, so it also runs on a hot standby.
//!
//! Relation OIDs and column numbers are resolved by name once per backend and
//! forgotten on any relcache invalidation of the table or index (DROP/CREATE
//! EXTENSION in a live backend resolves them again).

use crate::sessions::SessionRow;
use pgrx::pg_sys;
use pgrx::{FromDatum, Uuid};
use std::cell::Cell;
use std::ffi::CStr;

/// The columns the decision needs, in the order they are read.
const COLUMNS: [&CStr; 11] = [
    c"id",
    c"user_id",
    c"current_jti",
    c"previous_jti",
    c"created_at",
    c"last_rotated_at",
    c"expires_at",
    c"revoked_at",
    c"dpop_jkt",
    c"auth_time",
    c"family_id",
];

#[derive(Clone, Copy)]
struct Layout {
    table: pg_sys::Oid,
    index: pg_sys::Oid,
    /// 1-based attribute numbers of [`COLUMNS`] in the table.
    attnums: [i16; 11],
}

thread_local! {
    static LAYOUT: Cell<Option<Layout>> = const { Cell::new(None) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Relcache invalidation: forget the layout when the table or its index
/// changes (or on a full reset, `relid` = InvalidOid).
unsafe extern "C-unwind" fn forget_layout(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    LAYOUT.with(|l| {
        if let Some(layout) = l.get() {
            if relid == pg_sys::InvalidOid || relid == layout.table || relid == layout.index {
                l.set(None);
            }
        }
    });
}

/// Resolve `authguard.auth_sessions`, its live-jti index and the columns.
/// None when the extension's objects are not there (the caller then takes
/// the SPI path, which reports the problem properly).
fn resolve() -> Option<Layout> {
    if let Some(l) = LAYOUT.with(|l| l.get()) {
        return Some(l);
    }
    if !CALLBACK_REGISTERED.with(|c| c.replace(true)) {
        // SAFETY: registers a plain function for the backend's lifetime.
        unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(forget_layout), pg_sys::Datum::from(0)) };
    }
    // SAFETY: catalog lookups by name; the relation is opened (and locked)
    // only to read its descriptor and the index's column.
    unsafe {
        let ns = pg_sys::get_namespace_oid(c"authguard".as_ptr(), true);
        if ns == pg_sys::InvalidOid {
            return None;
        }
        let table = pg_sys::get_relname_relid(c"auth_sessions".as_ptr(), ns);
        let index = pg_sys::get_relname_relid(c"auth_sessions_live_jti".as_ptr(), ns);
        if table == pg_sys::InvalidOid || index == pg_sys::InvalidOid {
            return None;
        }
        let rel = pg_sys::table_open(table, pg_sys::AccessShareLock as _);
        let mut attnums = [0i16; 11];
        {
            // Borrowed from the relcache entry (not released or freed here).
            let desc = pgrx::PgTupleDesc::from_pg_unchecked((*rel).rd_att);
            for (slot, name) in attnums.iter_mut().zip(COLUMNS) {
                for att in desc.iter() {
                    if !att.attisdropped && CStr::from_ptr(att.attname.data.as_ptr()) == name {
                        *slot = att.attnum;
                    }
                }
            }
        }
        pg_sys::table_close(rel, pg_sys::NoLock as _);
        if attnums.contains(&0) {
            return None;
        }
        let layout = Layout { table, index, attnums };
        LAYOUT.with(|l| l.set(Some(layout)));
        Some(layout)
    }
}

/// The live session whose `current_jti` is `jti`, if it belongs to `family`.
///
/// `Err(())` means "not answered here" (no active snapshot, objects missing):
/// the caller falls back to SPI. `Ok(None)`: no live session holds `jti` in
/// that family.
pub fn live_session_by_jti(jti: &Uuid, family: &Uuid) -> Result<Option<SessionRow>, ()> {
    // SAFETY: plain read of backend state.
    if !unsafe { pg_sys::ActiveSnapshotSet() } {
        return Err(());
    }
    let layout = resolve().ok_or(())?;
    // SAFETY: the scan follows the executor's own sequence (open with
    // AccessShareLock, begin, rescan with one key, fetch, end, close with
    // NoLock so the locks are held to transaction end). Slot values are read
    // only while the slot holds its buffer pin; what is kept is copied.
    unsafe {
        let rel = pg_sys::table_open(layout.table, pg_sys::AccessShareLock as _);
        let idx = pg_sys::index_open(layout.index, pg_sys::AccessShareLock as _);
        // Taking a lock the transaction did not hold yet processes pending
        // invalidations; if they concerned these relations, the layout was
        // just forgotten and this call takes the SPI path instead.
        if LAYOUT.with(|l| l.get()).is_none() || (*(*idx).rd_index).indrelid != layout.table {
            pg_sys::index_close(idx, pg_sys::NoLock as _);
            pg_sys::table_close(rel, pg_sys::NoLock as _);
            return Err(());
        }
        let snapshot = pg_sys::GetActiveSnapshot();
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            1,
            pg_sys::BTEqualStrategyNumber as _,
            pg_sys::F_UUID_EQ.into(),
            pg_sys::Datum::from(jti.as_bytes().as_ptr()),
        );
        #[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
        let scan = pg_sys::index_beginscan(rel, idx, snapshot, 1, 0);
        #[cfg(feature = "pg18")]
        let scan = pg_sys::index_beginscan(rel, idx, snapshot, std::ptr::null_mut(), 1, 0);
        pg_sys::index_rescan(scan, &mut key, 1, std::ptr::null_mut(), 0);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());

        let mut found = None;
        while pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
            pg_sys::slot_getallattrs(slot);
            let row = read_row(slot, &layout.attnums);
            // The index is unique among live rows; the checks below are what
            // the SQL form's quals said (jti, live) plus the family match.
            if let Some((row, row_family)) = row {
                if row.current_jti == *jti.as_bytes() && !row.revoked && row_family == *family.as_bytes() {
                    found = Some(row);
                    break;
                }
            }
        }
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::index_endscan(scan);
        pg_sys::index_close(idx, pg_sys::NoLock as _);
        pg_sys::table_close(rel, pg_sys::NoLock as _);
        Ok(found)
    }
}

/// The row in a filled slot, and its family id. None when a NOT NULL column
/// reads NULL (cannot happen with the extension's own table).
unsafe fn read_row(slot: *mut pg_sys::TupleTableSlot, attnums: &[i16; 11]) -> Option<(SessionRow, [u8; 16])> {
    let value = |i: usize| -> (pg_sys::Datum, bool) {
        let at = attnums[i] as usize - 1;
        unsafe { (*(*slot).tts_values.add(at), *(*slot).tts_isnull.add(at)) }
    };
    let uuid = |i: usize| -> Option<[u8; 16]> {
        let (d, null) = value(i);
        // SAFETY: a uuid Datum points at 16 bytes inside the pinned tuple.
        (!null).then(|| unsafe { *d.cast_mut_ptr::<[u8; 16]>() })
    };
    let time = |i: usize| -> Option<i64> {
        let (d, null) = value(i);
        (!null).then(|| d.value() as i64)
    };
    let (dpop, dpop_null) = value(8);
    Some((
        SessionRow {
            id: uuid(0)?,
            user_id: uuid(1)?,
            current_jti: uuid(2)?,
            previous_jti: uuid(3),
            created_at: time(4)?,
            last_rotated_at: time(5),
            expires_at: time(6)?,
            revoked: !value(7).1,
            // SAFETY: a text Datum of the tuple (detoasted and copied by from_datum).
            dpop_jkt: unsafe { String::from_datum(dpop, dpop_null) },
            auth_time: time(9)?,
        },
        uuid(10)?,
    ))
}
