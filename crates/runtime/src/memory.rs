//! How the process's allocator holds memory: little of it idle, and what a burst took given
//! back to the system.

use std::time::Duration;

/// How often free memory is handed back while the process runs.
const RETURN_EVERY: Duration = Duration::from_secs(5);

/// Tunes glibc's allocator for a service, and starts handing free memory back to the system
/// every few seconds: call it first thing in `main`.
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
/// - Free memory inside the heap goes back too: glibc returns only what is free at its top, so
///   start-up work (migrations, a login) left a couple of MiB resident that nothing used.
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
        let _ = std::thread::Builder::new()
            .name("memory-return".to_owned())
            .spawn(|| {
                loop {
                    std::thread::sleep(RETURN_EVERY);
                    return_free_memory();
                }
            });
    }
}

/// Hands the allocator's free memory back to the system now, as after start-up work that is
/// done with; cheap (it walks the free lists), so callers need not care how often.
#[allow(unsafe_code)]
pub fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it releases free pages under the allocator's locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
