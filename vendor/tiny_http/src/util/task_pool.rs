use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// Manages a collection of threads.
///
/// A new thread is created every time all the existing threads are full.
/// Any idle thread will automatically die after a few seconds.
pub struct TaskPool {
    sharing: Arc<Sharing>,
}

struct Sharing {
    // list of the tasks to be done by worker threads
    todo: Mutex<VecDeque<Box<dyn FnMut() + Send>>>,

    // condvar that will be notified whenever a task is added to `todo`
    condvar: Condvar,

    // number of total worker threads running
    active_tasks: AtomicUsize,

    // number of idle worker threads
    waiting_tasks: AtomicUsize,
}

/// Minimum number of active threads.
static MIN_THREADS: usize = 4;

struct Registration<'a> {
    nb: &'a AtomicUsize,
}

impl<'a> Registration<'a> {
    fn new(nb: &'a AtomicUsize) -> Registration<'a> {
        nb.fetch_add(1, Ordering::Release);
        Registration { nb }
    }
}

impl<'a> Drop for Registration<'a> {
    fn drop(&mut self) {
        self.nb.fetch_sub(1, Ordering::Release);
    }
}

impl TaskPool {
    pub fn new() -> TaskPool {
        let pool = TaskPool {
            sharing: Arc::new(Sharing {
                todo: Mutex::new(VecDeque::new()),
                condvar: Condvar::new(),
                active_tasks: AtomicUsize::new(0),
                waiting_tasks: AtomicUsize::new(0),
            }),
        };

        for _ in 0..MIN_THREADS {
            pool.add_thread(None)
        }

        pool
    }

    /// Executes a function in a thread.
    /// If no thread is available, spawns a new one.
    ///
    /// A task is only queued if an idle thread is guaranteed to pick it up: tasks (client
    /// connections) may run for a very long time (keep-alive), so a task queued behind a
    /// busy thread could wait forever.
    pub fn spawn(&self, code: Box<dyn FnMut() + Send>) {
        let mut queue = self.sharing.todo.lock().unwrap();

        // `waiting_tasks` counts the threads waiting on the condvar, including those that
        // were already notified but have not yet taken their task from the queue. Each
        // queued task needs a waiting thread of its own; comparing with 0 (as upstream did)
        // queued several tasks for a single idle thread during a burst of connections.
        // Both counters are only modified while `todo` is locked, so this is exact.
        if self.sharing.waiting_tasks.load(Ordering::Acquire) > queue.len() {
            queue.push_back(code);
            self.sharing.condvar.notify_one();
        } else {
            self.add_thread(Some(code));
        }
    }

    fn add_thread(&self, initial_fn: Option<Box<dyn FnMut() + Send>>) {
        let sharing = self.sharing.clone();

        thread::spawn(move || {
            let sharing = sharing;
            let _active_guard = Registration::new(&sharing.active_tasks);

            if let Some(mut f) = initial_fn {
                f();
            }

            loop {
                let mut task: Box<dyn FnMut() + Send> = {
                    let mut todo = sharing.todo.lock().unwrap();

                    let task;
                    loop {
                        if let Some(poped_task) = todo.pop_front() {
                            task = poped_task;
                            break;
                        }
                        let _waiting_guard = Registration::new(&sharing.waiting_tasks);

                        let received =
                            if sharing.active_tasks.load(Ordering::Acquire) <= MIN_THREADS {
                                todo = sharing.condvar.wait(todo).unwrap();
                                true
                            } else {
                                let (new_lock, waitres) = sharing
                                    .condvar
                                    .wait_timeout(todo, Duration::from_millis(5000))
                                    .unwrap();
                                todo = new_lock;
                                !waitres.timed_out()
                            };

                        if !received && todo.is_empty() {
                            return;
                        }
                    }

                    task
                };

                task();
            }
        });
    }
}

#[cfg(test)]
impl TaskPool {
    fn waiting(&self) -> usize {
        let _todo = self.sharing.todo.lock().unwrap();
        self.sharing.waiting_tasks.load(Ordering::Acquire)
    }
}

impl Drop for TaskPool {
    fn drop(&mut self) {
        self.sharing
            .active_tasks
            .store(999_999_999, Ordering::Release);
        self.sharing.condvar.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::{TaskPool, MIN_THREADS};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    /// Tasks that never finish (like keep-alive connections) must each get their own thread,
    /// also when they are spawned in a burst while the pool has idle threads.
    #[test]
    fn burst_of_long_tasks_all_start() {
        const TASKS: usize = 4 * MIN_THREADS;
        let pool = TaskPool::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.waiting() < MIN_THREADS {
            assert!(Instant::now() < deadline, "pool threads did not start");
            std::thread::yield_now();
        }

        let started = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        for _ in 0..TASKS {
            let started = started.clone();
            let release_rx = release_rx.clone();
            pool.spawn(Box::new(move || {
                started.fetch_add(1, Ordering::SeqCst);
                // blocks until the sender is dropped
                let _ = release_rx.lock().unwrap().recv();
            }));
        }

        while started.load(Ordering::SeqCst) < TASKS && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let n = started.load(Ordering::SeqCst);
        drop(release_tx);
        assert_eq!(n, TASKS, "tasks were queued behind busy threads");
    }
}
