//! How the process's allocator gives memory back to the system.

/// Makes every large allocation its own mapping, returned to the system when freed.
///
/// glibc raises its mmap threshold each time a large block is freed, up to 32 MiB, so that
/// after one password hash (argon2 takes 19 MiB) later hashes and big result sets come from
/// the heap and stay resident for good: three logins left the api at 99 MiB instead of 40.
/// A fixed threshold turns that adaptation off. Call it first thing in `main`.
#[allow(unsafe_code)]
pub fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's own default threshold, now fixed.
        const THRESHOLD: libc::c_int = 128 * 1024;
        // SAFETY: mallopt takes no pointers and only sets a parameter of the allocator, under
        // the allocator's own lock; if refused (it returns 0) the defaults stay.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        }
    }
}
