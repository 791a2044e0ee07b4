//! Walking the plan's graph: a job starts once every job ordered before it has ended, up to
//! `limit` at a time (Pacemaker's `batch-limit`), each in its own thread.
use std::collections::BTreeSet;

/// What to do after a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on starting jobs.
    Continue,
    /// Start nothing more; let the running ones end.
    Stop,
}

/// Run jobs `0..n` respecting `edges` (`(a, b)`: `a` ends before `b` starts), at most `limit`
/// at once. `prepare` (on the calling thread) turns a job into its work just before it
/// starts; `run` does the work on a worker thread; `finish` (on the calling thread again)
/// takes each result as it comes and says whether to go on. Both see `state`, the caller's
/// bookkeeping. Ready jobs start in index order, so with `limit` 1 the walk is a plain
/// topological order. Returns the jobs that never started: those after a [`Flow::Stop`],
/// and those on a cycle (never expected).
pub fn walk<S, J: Send, O: Send>(
    n: usize,
    edges: &[(usize, usize)],
    limit: usize,
    state: &mut S,
    mut prepare: impl FnMut(&mut S, usize) -> J,
    run: impl Fn(J) -> O + Sync,
    mut finish: impl FnMut(&mut S, usize, O) -> Flow,
) -> Vec<usize> {
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting_on = vec![0usize; n];
    for &(a, b) in edges {
        if a < n && b < n && a != b {
            after[a].push(b);
            waiting_on[b] += 1;
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
    let mut started = vec![false; n];
    let limit = limit.max(1);
    let run = &run;
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, O)>();
        let mut running = 0usize;
        let mut stopping = false;
        loop {
            while !stopping && running < limit {
                let Some(i) = ready.pop_first() else { break };
                started[i] = true;
                let job = prepare(state, i);
                let tx = tx.clone();
                scope.spawn(move || {
                    let _ = tx.send((i, run(job)));
                });
                running += 1;
            }
            if running == 0 {
                break;
            }
            let Ok((i, out)) = rx.recv() else { break };
            running -= 1;
            if finish(state, i, out) == Flow::Stop {
                stopping = true;
            }
            for &b in &after[i] {
                waiting_on[b] -= 1;
                if waiting_on[b] == 0 {
                    ready.insert(b);
                }
            }
        }
    });
    (0..n).filter(|&i| !started[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn order_is_kept_and_independent_jobs_overlap_up_to_the_limit() {
        // 0 -> 1 -> 2, and 3, 4, 5 free.
        let edges = [(0, 1), (1, 2)];
        let now = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let mut ended = Vec::new();
        let left = walk(
            6,
            &edges,
            3,
            &mut ended,
            |_, i| i,
            |i| {
                let c = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(c, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                now.fetch_sub(1, Ordering::SeqCst);
                i
            },
            |ended, i, o| {
                assert_eq!(i, o);
                ended.push(i);
                Flow::Continue
            },
        );
        assert!(left.is_empty());
        let pos = |x: usize| ended.iter().position(|&e| e == x).unwrap_or(usize::MAX);
        assert!(pos(0) < pos(1) && pos(1) < pos(2), "{ended:?}");
        assert_eq!(peak.load(Ordering::SeqCst), 3, "three at once, never more");
        assert_eq!(ended.len(), 6);
    }

    #[test]
    fn a_stop_starts_nothing_more_and_reports_what_never_ran() {
        let mut ended = Vec::new();
        let left = walk(
            4,
            &[(0, 1), (1, 2), (2, 3)],
            1,
            &mut ended,
            |_, i| i,
            |i| i,
            |ended, i, _| {
                ended.push(i);
                if i == 1 { Flow::Stop } else { Flow::Continue }
            },
        );
        assert_eq!(ended, vec![0, 1]);
        assert_eq!(left, vec![2, 3]);
    }

    #[test]
    fn a_cycle_is_left_out_not_a_hang() {
        let left = walk(
            3,
            &[(1, 2), (2, 1)],
            2,
            &mut (),
            |_, i| i,
            |i| i,
            |_, _, _| Flow::Continue,
        );
        assert_eq!(left, vec![1, 2]);
    }
}
