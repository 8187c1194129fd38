"""A seeded generator of a heterogeneous social graph with planted, learnable structure.

Everything is vectorized (no per-user Python loop) so the same code makes a few hundred users
for tests and a million for scale runs. Planted signal, per task:

* friends: communities with homophily, then triadic closure (friends of friends befriend each
  other later in time), so both neighborhood heuristics and GNNs have signal;
* career: users have a field and a seniority, visible through their skills and companies; they
  apply to jobs of their field at or one step above their seniority;
* content: users like posts on their community's topic, often posts by friends;
* sentiment: post text mixes topic words, sentiment words, negations and intensifiers; some
  posts carry no sentiment words at all, and labels follow the author's mood, which friends
  share, so the author's neighborhood carries signal beyond the text. With ``real_text``,
  posts instead carry real labelled sentences from a sentiment corpus, each drawn from the
  class of the post's planted label (:func:`graphrec.sources.corpora.sample_texts_by_label`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch_geometric.data import HeteroData

from graphrec.data.schema import FORWARD_EDGE_TYPES, reverse_edge_type
from graphrec.text.tokens import hashed_ngrams, word_hashes

POSITIVE = ["good", "great", "love", "happy", "awesome", "nice", "excellent", "fun"]
NEGATIVE = ["bad", "awful", "hate", "sad", "terrible", "boring", "poor", "worst"]
NEUTRAL = ["okay", "fine", "average", "usual", "normal", "decent"]
NEGATIONS = ["not", "never"]
INTENSIFIERS = ["very", "really", "so", "extremely"]
FILLER = ["the", "a", "today", "this", "my", "with", "and", "just", "about", "new", "some", "we"]
WORDS_PER_TOPIC = 8


@dataclass
class SyntheticConfig:
    """Knobs of the generator; defaults give the ``small`` preset's shape at any size."""

    num_users: int = 3000
    seed: int = 0
    community_size: int = 60
    avg_friends: float = 14.0
    homophily: float = 0.85
    closure_fraction: float = 0.4
    posts_per_user: float = 4.0
    likes_per_user: float = 10.0
    like_friend_prob: float = 0.5
    num_fields: int = 8
    skills_per_field: int = 15
    users_per_job: int = 10
    users_per_company: int = 50
    applications_per_user: float = 3.0
    num_topics: int = 16
    words_per_post: int = 10
    explicit_prob: float = 0.7
    negation_prob: float = 0.3
    mood_prob: float = 0.8
    label_noise: float = 0.05
    num_buckets: int = 2**14
    user_feature_dim: int = 16
    user_feature_noise: float = 2.0
    # Corpus name(s) of graphrec.sources.corpora (3-class: umsab_english, tweeteval_sentiment)
    # whose sentences become the posts' text; None: generated words. Read from
    # real_text_root (a folder holding the corpus subfolders) or $GRAPHREC_DATA_DIR.
    real_text: str | list[str] | None = None
    real_text_root: str | None = None


def _segment_pick(ptr: torch.Tensor, seg: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Picks one uniform position inside each requested segment ``[ptr[s], ptr[s+1])``.

    Segments must be non-empty. Returns ``[len(seg)]`` positions.
    """
    size = (ptr[seg + 1] - ptr[seg]).double()
    off = (torch.rand(seg.numel(), generator=g, dtype=torch.double) * size).long()
    return ptr[seg] + off


def _group(keys: torch.Tensor, num_keys: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorts ids by key. Returns ``(members [N], ptr [num_keys + 1])`` like a CSR row pointer."""
    members = torch.argsort(keys, stable=True)
    ptr = torch.zeros(num_keys + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(torch.bincount(keys, minlength=num_keys), 0)
    return members, ptr


def _unique_pairs(src, dst, n_dst, *extra):
    """Drops duplicate (src, dst) pairs, keeping the first; ``extra`` tensors follow along."""
    key = src * n_dst + dst
    uniq, inv = torch.unique(key, return_inverse=True)
    first = torch.full((uniq.numel(),), key.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inv, torch.arange(key.numel()), reduce="amin")
    first = first.sort().values
    return (src[first], dst[first], *(e[first] for e in extra))


def _poisson_counts(n: int, mean: torch.Tensor | float, g: torch.Generator) -> torch.Tensor:
    rate = torch.as_tensor(mean, dtype=torch.double).expand(n).contiguous()
    return torch.poisson(rate, generator=g).long()


def _friends(cfg, community, activity, members, ptr, g):
    """Homophilous community edges, then triadic closure; returns undirected pairs and times."""
    n = cfg.num_users
    total = int(n * cfg.avg_friends / 2)
    m1 = int(total * (1 - cfg.closure_fraction) * 1.1)
    src = torch.multinomial(activity, m1, replacement=True, generator=g)
    local = torch.rand(m1, generator=g) < cfg.homophily
    dst = torch.randint(0, n, (m1,), generator=g)
    dst[local] = members[_segment_pick(ptr, community[src[local]], g)]
    t = torch.rand(m1, generator=g) * 0.6
    lo, hi = torch.minimum(src, dst), torch.maximum(src, dst)
    keep = lo != hi
    lo, hi, t = _unique_pairs(lo[keep], hi[keep], n, t[keep])

    # Triadic closure: pick a random edge (v, u), then a random neighbor w of v, and join u-w.
    rows = torch.cat([lo, hi])
    cols = torch.cat([hi, lo])
    times = torch.cat([t, t])
    order = torch.argsort(rows, stable=True)
    rows, cols, times = rows[order], cols[order], times[order]
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    rowptr[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
    m2 = int((total - lo.numel()) * 1.3)
    if m2 > 0 and rows.numel():
        e = torch.randint(0, rows.numel(), (m2,), generator=g)
        v, u, t_uv = rows[e], cols[e], times[e]
        e2 = _segment_pick(rowptr, v, g)
        w, t_vw = cols[e2], times[e2]
        start = torch.maximum(t_uv, t_vw)
        t2 = start + torch.rand(m2, generator=g) * (1 - start)
        keep = u != w
        lo = torch.cat([lo, torch.minimum(u, w)[keep]])
        hi = torch.cat([hi, torch.maximum(u, w)[keep]])
        t = torch.cat([t, t2[keep]])
        lo, hi, t = _unique_pairs(lo, hi, n, t)
    return lo, hi, t


def _post_tokens(cfg, label, topic, g):
    """Word sequences for posts, hashed to bucket ids. Returns ``(tokens [P, 2L-1], explicit)``."""
    vocab = POSITIVE + NEGATIVE + NEUTRAL + NEGATIONS + INTENSIFIERS + FILLER
    topic_words = [f"topic{t}_{j}" for t in range(cfg.num_topics) for j in range(WORDS_PER_TOPIC)]
    vocab = vocab + topic_words
    base = {name: vocab.index(words[0]) for name, words in [
        ("pos", POSITIVE), ("neg", NEGATIVE), ("neu", NEUTRAL), ("not", NEGATIONS),
        ("int", INTENSIFIERS), ("fill", FILLER)]}
    topic0 = len(vocab) - len(topic_words)
    p, L = label.numel(), cfg.words_per_post

    def pick(name, size, n):
        return base[name] + torch.randint(0, size, (n,), generator=g)

    # Background: topic words with filler in between.
    is_topic = torch.rand(p, L, generator=g) < 0.5
    topic_ids = topic0 + topic[:, None] * WORDS_PER_TOPIC + torch.randint(
        0, WORDS_PER_TOPIC, (p, L), generator=g)
    filler = base["fill"] + torch.randint(0, len(FILLER), (p, L), generator=g)
    words = torch.where(is_topic, topic_ids, filler)
    length = torch.randint(L // 2 + 2, L + 1, (p,), generator=g)

    # A two-word sentiment phrase at a random position: "[very|not] good", "okay".
    explicit = torch.rand(p, generator=g) < cfg.explicit_prob
    negate = torch.rand(p, generator=g) < cfg.negation_prob
    pos_w, neg_w, neu_w = pick("pos", len(POSITIVE), p), pick("neg", len(NEGATIVE), p), pick(
        "neu", len(NEUTRAL), p)
    # A negated phrase uses the opposite polarity word: "not good" is negative.
    polar = torch.where((label == 2) ^ negate, pos_w, neg_w)
    second = torch.where(label == 1, neu_w, polar)
    first = torch.where(negate & (label != 1), pick("not", len(NEGATIONS), p),
                        pick("int", len(INTENSIFIERS), p))
    first = torch.where(label == 1, pick("fill", len(FILLER), p), first)
    at = (torch.rand(p, generator=g) * (length - 1).double()).long()
    rows = torch.nonzero(explicit).squeeze(1)
    words[rows, at[rows]] = first[rows]
    words[rows, at[rows] + 1] = second[rows]

    hashes = word_hashes(vocab)[words]
    hashes[torch.arange(L)[None, :] >= length[:, None]] = -1
    return hashed_ngrams(hashes, cfg.num_buckets), explicit


def generate_social_graph(cfg: SyntheticConfig | None = None, **overrides) -> HeteroData:
    """Generates the social graph. Same config (incl. seed), same tensors.

    Args:
        cfg: generator knobs; keyword ``overrides`` replace single fields.

    Returns:
        A ``HeteroData`` in the schema of :mod:`graphrec.data.schema`.
    """
    cfg = SyntheticConfig(**{**(cfg.__dict__ if cfg else {}), **overrides})
    if cfg.num_users < 20:
        raise ValueError(f"num_users={cfg.num_users} is too small; use at least 20 users")
    g = torch.Generator().manual_seed(cfg.seed)
    n, F = cfg.num_users, cfg.num_fields
    num_comm = max(2, n // cfg.community_size)

    # Users: community, activity, field, seniority, mood.
    community = torch.randint(0, num_comm, (n,), generator=g)
    members, cptr = _group(community, num_comm)
    empty = cptr[1:] == cptr[:-1]
    if empty.any():  # tiny graphs: give each empty community one member so picks never fail
        community[torch.randperm(n, generator=g)[: int(empty.sum())]] = torch.nonzero(empty)[:, 0]
        members, cptr = _group(community, num_comm)
    activity = torch.exp(torch.randn(n, generator=g) * 0.7)
    comm_field = torch.randint(0, F, (num_comm,), generator=g)
    field = torch.where(torch.rand(n, generator=g) < 0.75, comm_field[community],
                        torch.randint(0, F, (n,), generator=g))
    seniority = torch.multinomial(torch.tensor([0.5, 0.3, 0.2]), n, True, generator=g)
    comm_mood = torch.randn(num_comm, 3, generator=g) * 1.5
    mood = torch.multinomial(torch.softmax(comm_mood[community], -1), 1, generator=g).squeeze(1)
    comm_topic = torch.randint(0, cfg.num_topics, (num_comm,), generator=g)

    f_lo, f_hi, f_t = _friends(cfg, community, activity, members, cptr, g)
    adj_rows = torch.cat([f_lo, f_hi])
    adj_members, adj_ptr = _group(adj_rows, n)
    adj_cols = torch.cat([f_hi, f_lo])[adj_members]

    # Posts: authored by users in proportion to activity; topic follows the author's community.
    n_posts = _poisson_counts(n, cfg.posts_per_user * activity / activity.mean(), g)
    author = torch.repeat_interleave(torch.arange(n), n_posts)
    p = author.numel()
    topic = torch.where(torch.rand(p, generator=g) < 0.7, comm_topic[community[author]],
                        torch.randint(0, cfg.num_topics, (p,), generator=g))
    label = torch.where(torch.rand(p, generator=g) < cfg.mood_prob, mood[author],
                        torch.randint(0, 3, (p,), generator=g))
    tokens, _ = _post_tokens(cfg, label, topic, g)
    label_clean = label
    noisy = torch.rand(p, generator=g) < cfg.label_noise
    label = torch.where(noisy, torch.randint(0, 3, (p,), generator=g), label)
    post_time = torch.rand(p, generator=g)
    post_members, post_ptr = _group(author, n)
    topic_members, topic_ptr = _group(topic, cfg.num_topics)

    # Likes: a friend's post, or a post on the user's community topic.
    n_likes = _poisson_counts(n, cfg.likes_per_user * activity / activity.mean(), g)
    liker = torch.repeat_interleave(torch.arange(n), n_likes)
    via_friend = (torch.rand(liker.numel(), generator=g) < cfg.like_friend_prob)
    via_friend &= (adj_ptr[liker + 1] > adj_ptr[liker])
    friend = torch.full_like(liker, -1)
    friend[via_friend] = adj_cols[_segment_pick(adj_ptr, liker[via_friend], g)]
    has_posts = via_friend.clone()
    has_posts[via_friend] = post_ptr[friend[via_friend] + 1] > post_ptr[friend[via_friend]]
    liked = torch.empty_like(liker)
    liked[has_posts] = post_members[_segment_pick(post_ptr, friend[has_posts], g)]
    rest = ~has_posts
    want = torch.where(torch.rand(liker.numel(), generator=g) < 0.8, comm_topic[community[liker]],
                       torch.randint(0, cfg.num_topics, (liker.numel(),), generator=g))[rest]
    has_topic = topic_ptr[want + 1] > topic_ptr[want]
    want = torch.where(has_topic, want, topic[torch.randint(0, p, (want.numel(),), generator=g)])
    liked[rest] = topic_members[_segment_pick(topic_ptr, want, g)]
    keep = author[liked] != liker
    like_t = post_time[liked] + torch.rand(liker.numel(), generator=g) * (1 - post_time[liked])
    l_src, l_dst, l_t = _unique_pairs(liker[keep], liked[keep], p, like_t[keep])

    # Career: skills, companies and jobs organized by field and seniority.
    S = F * cfg.skills_per_field
    n_comp = F * max(2, -(-n // (cfg.users_per_company * F)))
    n_jobs = 3 * F * max(1, -(-n // (cfg.users_per_job * 3 * F)))
    comp_field = torch.arange(n_comp) % F
    job_key = torch.arange(n_jobs) % (3 * F)  # every (field, seniority) has jobs
    job_field, job_sen = job_key // 3, job_key % 3
    job_comp = job_field + F * torch.randint(0, n_comp // F, (n_jobs,), generator=g)

    def field_skill(fld):
        return fld * cfg.skills_per_field + torch.randint(
            0, cfg.skills_per_field, fld.shape, generator=g)

    n_sk = 2 + 2 * seniority + _poisson_counts(n, 1.0, g)
    sk_user = torch.repeat_interleave(torch.arange(n), n_sk)
    sk = torch.where(torch.rand(sk_user.numel(), generator=g) < 0.8, field_skill(field[sk_user]),
                     torch.randint(0, S, (sk_user.numel(),), generator=g))
    hs_src, hs_dst = _unique_pairs(sk_user, sk, S)
    rq_job = torch.arange(n_jobs).repeat_interleave(4)
    rq_src, rq_dst = _unique_pairs(rq_job, field_skill(job_field[rq_job]), S)
    wk_user = torch.repeat_interleave(torch.arange(n), 1 + seniority)
    wk_field = torch.where(torch.rand(wk_user.numel(), generator=g) < 0.8, field[wk_user],
                           torch.randint(0, F, (wk_user.numel(),), generator=g))
    wk_comp = wk_field + F * torch.randint(0, n_comp // F, (wk_user.numel(),), generator=g)
    wk_src, wk_dst = _unique_pairs(wk_user, wk_comp, n_comp)
    n_app = 1 + _poisson_counts(n, cfg.applications_per_user - 1, g)
    app_user = torch.repeat_interleave(torch.arange(n), n_app)
    step = (torch.rand(app_user.numel(), generator=g) < 0.3).long()
    want_key = field[app_user] * 3 + torch.clamp(seniority[app_user] + step, max=2)
    job_members, job_ptr = _group(job_key, 3 * F)
    app_job = torch.where(torch.rand(app_user.numel(), generator=g) < 0.85,
                          job_members[_segment_pick(job_ptr, want_key, g)],
                          torch.randint(0, n_jobs, (app_user.numel(),), generator=g))
    a_src, a_dst, a_t = _unique_pairs(app_user, app_job, n_jobs,
                                      torch.rand(app_user.numel(), generator=g))

    data = HeteroData()
    centroid = torch.randn(num_comm, cfg.user_feature_dim, generator=g)
    noise = torch.randn(n, cfg.user_feature_dim, generator=g) * cfg.user_feature_noise
    data["user"].x = torch.cat([centroid[community] + noise, activity.log()[:, None]], 1)
    data["user"].num_nodes = n
    if cfg.real_text:
        # A sentence of the planted (noise-free) class: the corpus's own label noise replaces
        # label_noise. Its own generator keeps the rest of the graph identical to the default.
        from graphrec.sources.corpora import sample_texts_by_label

        label = label_clean
        data["post"].text = sample_texts_by_label(
            cfg.real_text, label, torch.Generator().manual_seed(cfg.seed + 1),
            cfg.real_text_root)
    else:
        data["post"].tokens = tokens
        data["post"].num_buckets = cfg.num_buckets
    data["post"].y = label
    data["post"].time = post_time
    data["post"].num_nodes = p
    eye = torch.eye(F)
    data["job"].x = torch.cat([eye[job_field], torch.eye(3)[job_sen]], 1)
    data["job"].num_nodes = n_jobs
    data["company"].x = eye[comp_field]
    data["company"].num_nodes = n_comp
    data["skill"].x = eye[torch.arange(S) // cfg.skills_per_field]
    data["skill"].num_nodes = S

    edges = {
        # Friends are stored in both directions within one type; each pair appears twice.
        ("user", "friends", "user"): (adj_rows, torch.cat([f_hi, f_lo]), torch.cat([f_t, f_t])),
        ("user", "authored", "post"): (author, torch.arange(p), None),
        ("user", "likes", "post"): (l_src, l_dst, l_t),
        ("user", "applied", "job"): (a_src, a_dst, a_t),
        ("user", "worked_at", "company"): (wk_src, wk_dst, None),
        ("job", "posted_by", "company"): (torch.arange(n_jobs), job_comp, None),
        ("user", "has_skill", "skill"): (hs_src, hs_dst, None),
        ("job", "requires", "skill"): (rq_src, rq_dst, None),
    }
    assert set(edges) == set(FORWARD_EDGE_TYPES)
    for et, (src, dst, t) in edges.items():
        data[et].edge_index = torch.stack([src, dst])
        if t is not None:
            data[et].edge_time = t
        rev = reverse_edge_type(et)
        if rev != et:
            data[rev].edge_index = torch.stack([dst, src])
            if t is not None:
                data[rev].edge_time = t
    return data


class SyntheticSource:
    """A data source for the datamodule: calling it generates the graph.

    Args:
        num_users: graph size; everything else scales with it.
        seed: generator seed (independent of the training seed on purpose, so a seed sweep
            can hold the graph fixed).
        **kwargs: any other field of :class:`SyntheticConfig`.
    """

    name = "synthetic"

    def __init__(self, num_users: int = 3000, seed: int = 0, **kwargs):
        unknown = set(kwargs) - set(SyntheticConfig.__dataclass_fields__)
        if unknown:
            valid = ", ".join(sorted(SyntheticConfig.__dataclass_fields__))
            raise ValueError(f"unknown synthetic graph option(s) {sorted(unknown)}; valid: {valid}")
        self.config = SyntheticConfig(num_users=num_users, seed=seed, **kwargs)

    def __call__(self) -> HeteroData:
        return generate_social_graph(self.config)
