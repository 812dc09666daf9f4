//! Trie updates computed ahead on a snapshot with pending ancestors on top, then written in
//! order, leave exactly the rows that applying each block directly leaves.

use super::{Model, Rng, TestDb, oracle::random_changes};
use crate::trie::{TrieUpdates, compute_updates, write_updates};
use redb::ReadableDatabase;

#[test]
fn pending_updates_equal_direct_application() {
    let mut rng = Rng::new(11);
    let (direct, pending) = (TestDb::new(), TestDb::new());
    let mut model = Model::default();
    // Computed but not yet written, oldest first: up to four deep, as consensus may have them.
    let mut queue: Vec<TrieUpdates> = Vec::new();
    let mut deepest = 0;
    for _ in 0..80 {
        let changes = random_changes(&mut rng, &model);
        model.apply(&changes);
        let root = direct.apply(&changes);
        assert_eq!(root, model.root());

        let read = pending.db.begin_read().expect("begin read");
        let ancestors: Vec<&TrieUpdates> = queue.iter().collect();
        let updates = compute_updates(&read, &ancestors, &changes).expect("compute");
        drop(read);
        assert_eq!(
            updates.root(),
            root,
            "root on {} pending ancestors",
            queue.len()
        );
        queue.push(updates);
        deepest = deepest.max(queue.len());
        while queue.len() > 4 || (!queue.is_empty() && rng.below(3) == 0) {
            let updates = queue.remove(0);
            let txn = pending.db.begin_write().expect("begin write");
            assert_eq!(
                write_updates(&txn, &updates, None).expect("write"),
                updates.root()
            );
            txn.commit().expect("commit");
        }
    }
    for updates in queue.drain(..) {
        let txn = pending.db.begin_write().expect("begin write");
        write_updates(&txn, &updates, None).expect("write");
        txn.commit().expect("commit");
    }
    assert!(deepest >= 3, "the test exercises deep pending chains");
    assert_eq!(pending.state_root(), model.root());
    assert_eq!(pending.all_rows(), direct.all_rows());
}
