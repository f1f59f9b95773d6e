//! One-row results of `RETURNS TABLE` functions, returned in materialize mode.
//!
//! pgrx's `TableIterator` speaks the value-per-call protocol: every call
//! creates a multi-call memory context, rebuilds the result descriptor from
//! `pg_proc`, blesses it, forms a composite datum, and is then called a second
//! time to say "done". For the hot paths, which return exactly one row, that
//! bookkeeping costs more than the lookup itself. Here the row goes straight
//! into a tuplestore described by the descriptor the executor already built
//! for the call (`expectedDesc`), which is all a one-row set needs.

use crate::errors::AuthGuardError;
use pgrx::pg_sys;

/// Hand back `values`/`nulls` as the single row of the current set-returning
/// call. The caller then returns `()`; the executor reads the tuplestore.
///
/// # Safety
/// `fcinfo` must be the call's own FunctionCallInfo, and `values` must match
/// the function's declared result columns in number and types.
pub unsafe fn return_one_row(fcinfo: pg_sys::FunctionCallInfo, values: &mut [pg_sys::Datum], nulls: &mut [bool]) {
    unsafe {
        let rsinfo = (*fcinfo).resultinfo.cast::<pg_sys::ReturnSetInfo>();
        let materialize_allowed = !rsinfo.is_null()
            && (*rsinfo).type_ == pg_sys::NodeTag::T_ReturnSetInfo
            && ((*rsinfo).allowedModes & pg_sys::SetFunctionReturnMode::SFRM_Materialize as i32) != 0;
        if !materialize_allowed {
            AuthGuardError::Unsupported("set-valued function called in a context that cannot accept a set").report();
        }
        let old = pg_sys::MemoryContextSwitchTo((*(*rsinfo).econtext).ecxt_per_query_memory);
        let tupdesc = if (*rsinfo).expectedDesc.is_null() {
            let mut desc: pg_sys::TupleDesc = std::ptr::null_mut();
            let class = pg_sys::get_call_result_type(fcinfo, std::ptr::null_mut(), &mut desc);
            if class != pg_sys::TypeFuncClass::TYPEFUNC_COMPOSITE || desc.is_null() {
                pg_sys::MemoryContextSwitchTo(old);
                AuthGuardError::Internal("result type of a TABLE function is not composite".into()).report();
            }
            pg_sys::CreateTupleDescCopy(desc)
        } else {
            // The executor frees setDesc after use, so it gets its own copy.
            pg_sys::CreateTupleDescCopy((*rsinfo).expectedDesc)
        };
        if (*tupdesc).natts as usize != values.len() || values.len() != nulls.len() {
            pg_sys::MemoryContextSwitchTo(old);
            AuthGuardError::Internal("TABLE function column count mismatch".into()).report();
        }
        let random_access =
            ((*rsinfo).allowedModes & pg_sys::SetFunctionReturnMode::SFRM_Materialize_Random as i32) != 0;
        let store = pg_sys::tuplestore_begin_heap(random_access, false, pg_sys::work_mem);
        pg_sys::tuplestore_putvalues(store, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        pg_sys::MemoryContextSwitchTo(old);
        (*rsinfo).returnMode = pg_sys::SetFunctionReturnMode::SFRM_Materialize;
        (*rsinfo).setResult = store;
        (*rsinfo).setDesc = tupdesc;
    }
}

/// A column value as a Datum plus its null flag.
pub fn cell<T: pgrx::IntoDatum>(v: T) -> (pg_sys::Datum, bool) {
    match v.into_datum() {
        Some(d) => (d, false),
        None => (pg_sys::Datum::from(0usize), true),
    }
}

/// Return one row built from cells.
///
/// # Safety
/// As [`return_one_row`].
pub unsafe fn return_cells<const N: usize>(fcinfo: pg_sys::FunctionCallInfo, cells: [(pg_sys::Datum, bool); N]) {
    let mut values = cells.map(|c| c.0);
    let mut nulls = cells.map(|c| c.1);
    unsafe { return_one_row(fcinfo, &mut values, &mut nulls) }
}
