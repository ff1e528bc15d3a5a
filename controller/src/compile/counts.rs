//! How many resources of each kind a compile accepted and rejected (the
//! `mesh_controller_resources{kind, state}` gauge).

use crate::status::State;
use mesh_config::Kind;

/// Accepted and rejected resources per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Indexed by [`kind_index`], then [`state_index`].
    n: [[usize; 2]; 3],
}

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Service => 0,
        Kind::Endpoint => 1,
        Kind::Route => 2,
    }
}

fn state_index(state: State) -> usize {
    match state {
        State::Accepted => 0,
        State::Rejected => 1,
    }
}

impl Counts {
    /// Counts one more resource.
    pub fn add(&mut self, kind: Kind, state: State) {
        self.n[kind_index(kind)][state_index(state)] += 1;
    }

    pub fn get(&self, kind: Kind, state: State) -> usize {
        self.n[kind_index(kind)][state_index(state)]
    }

    /// All resources in `state`, of every kind.
    pub fn total(&self, state: State) -> usize {
        Kind::ALL.iter().map(|k| self.get(*k, state)).sum()
    }

    /// Every (kind, state, count), zeros included (so a gauge drops to 0),
    /// in [`Kind::ALL`] order, accepted before rejected.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, State, usize)> + '_ {
        Kind::ALL.into_iter().flat_map(move |kind| {
            [State::Accepted, State::Rejected]
                .into_iter()
                .map(move |state| (kind, state, self.get(kind, state)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_combination() {
        let mut c = Counts::default();
        c.add(Kind::Route, State::Rejected);
        c.add(Kind::Route, State::Rejected);
        c.add(Kind::Service, State::Accepted);
        assert_eq!(c.get(Kind::Route, State::Rejected), 2);
        assert_eq!(c.total(State::Accepted), 1);
        let all: Vec<_> = c.iter().collect();
        assert_eq!(all.len(), 6);
        assert_eq!(all[0], (Kind::Service, State::Accepted, 1));
        assert_eq!(all[5], (Kind::Route, State::Rejected, 2));
    }
}
