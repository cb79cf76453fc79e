"""Merging sample stores (e.g. one per process) into one."""

from keras_mathft.sampling.store import SampleStore


def merge_stores(sources, destination, problems_per_shard=256):
    """Combines stores (e.g. one per process) into one store.

    Args:
        sources: store directories (or `SampleStore`s); a directory shared
            by several processes counts once.
        destination: directory of the merged store (process index 0).
        problems_per_shard: int. Problems per shard of the merged store.

    Returns:
        The merged `SampleStore` (its writer lock released).

    Raises:
        ValueError: when two sources hold the same (problem, sample index)
            or the sources were made with different settings.
        StoreDamagedError: when a source fails its check.
    """
    seen, groups, metas = set(), {}, []
    for source in sources:
        store = source if isinstance(source, SampleStore) else None
        store = store or SampleStore(source)
        metas.append(store.read_meta())
        for s in store.load():
            key = (s.problem_id, s.sample_index)
            if key in seen:
                raise ValueError(
                    "Sample stores overlap; each problem must be sampled by "
                    f"one process only. Received: {key} twice"
                )
            seen.add(key)
            groups.setdefault(s.problem_id, []).append(s)
    metas = [m for m in metas if m is not None]
    if any(m != metas[0] for m in metas):
        raise ValueError(
            f"Sample stores have different settings. Received: {metas}"
        )
    out = SampleStore(destination)
    with out.writing(0):
        if out.shard_paths():
            raise ValueError(
                f"The merge destination must be empty. Received: {destination}"
            )
        if metas:
            out.check_meta(metas[0])
        ids = list(groups)
        for i in range(0, len(ids), problems_per_shard):
            batch = [
                s
                for pid in ids[i : i + problems_per_shard]
                for s in sorted(groups[pid], key=lambda s: s.sample_index)
            ]
            out.write_shard(batch)
    return out
