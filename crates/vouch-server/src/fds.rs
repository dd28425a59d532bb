//! The process's open-file budget, which every listener of one process shares.
//!
//! Each connection costs a file descriptor. When several servers run in one process
//! (`vouch up`), a flood on one port could exhaust the descriptor table and starve the others,
//! so their connection budgets must fit in it together: [`raise_open_files_limit`] lifts the
//! soft limit to the hard one (as the Go runtime does), and [`share_budgets`] scales budgets
//! down when they would not fit.

/// File descriptors kept out of every connection budget: data files, databases, outgoing
/// requests, rejected connections being answered.
pub const RESERVED_FDS: u64 = 256;

/// Raise the soft `RLIMIT_NOFILE` to the hard limit and return the resulting soft limit
/// (`None` when unlimited or unknown, e.g. not on Unix).
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let lim = getrlimit(Resource::Nofile);
        if let (Some(cur), Some(max)) = (lim.current, lim.maximum)
            && cur < max
            && setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(max),
                    maximum: Some(max),
                },
            )
            .is_ok()
        {
            return Some(max);
        }
        match (lim.current, lim.maximum) {
            (Some(cur), _) => Some(cur),
            (None, Some(max)) => Some(max),
            (None, None) => None,
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Scale connection budgets down, proportionally, so that together with [`RESERVED_FDS`] they
/// fit in `fd_limit`; each stays at least 1. Budgets that fit are returned unchanged.
pub fn share_budgets(budgets: &[usize], fd_limit: Option<u64>) -> Vec<usize> {
    let Some(limit) = fd_limit else {
        return budgets.to_vec();
    };
    let total: u64 = budgets.iter().map(|b| *b as u64).sum();
    let room = limit.saturating_sub(RESERVED_FDS).max(budgets.len() as u64);
    if total <= room {
        return budgets.to_vec();
    }
    budgets
        .iter()
        .map(|b| {
            usize::try_from((*b as u64).saturating_mul(room) / total.max(1))
                .unwrap_or(1)
                .max(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_fit_the_descriptor_table() {
        assert_eq!(share_budgets(&[512, 512], Some(20_000)), vec![512, 512]);
        assert_eq!(share_budgets(&[512, 512], None), vec![512, 512]);
        let shared = share_budgets(&[512; 6], Some(1024));
        assert_eq!(shared, vec![128; 6]);
        assert!(shared.iter().sum::<usize>() as u64 + RESERVED_FDS <= 1024);
        assert_eq!(share_budgets(&[512; 6], Some(10)), vec![1; 6]);
    }
}
