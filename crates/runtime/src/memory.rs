//! How the process's allocator holds memory: little of it idle, and what a burst took given
//! back to the system.

/// Tunes glibc's allocator for a service: call it first thing in `main`.
///
/// - Every large allocation is its own mapping, returned to the system when freed. glibc
///   raises its mmap threshold each time a large block is freed, up to 32 MiB, so that after
///   one password hash (argon2 takes 19 MiB) later hashes and big result sets come from the
///   heap and stay resident for good: three logins left the api at 99 MiB instead of 40. A
///   fixed threshold turns that adaptation off.
/// - At most two arenas. glibc gives threads arenas of their own, up to eight per core, each
///   keeping freed memory for reuse; a service runs a dozen threads (HTTP workers, the blocking
///   pool, the pool's helpers, the broker's I/O) that mostly wait, so idle memory grew with
///   threads that had once allocated. Small allocations still come from each thread's own
///   cache without a lock.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// glibc's own default threshold, now fixed.
        const MMAP_THRESHOLD: libc::c_int = 128 * 1024;
        const ARENAS: libc::c_int = 2;
        // SAFETY: mallopt takes no pointers and only sets a parameter of the allocator, under
        // the allocator's own lock; if refused (it returns 0) the defaults stay.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
