"""The demo course: an ML-systems venue with lecturers, TAs, 60 students in 20 groups and their projects."""

import random
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from app.models import Deadline, Group, Member, Phase, Role, Submission, User, Venue
from app.security.passwords import hash_password
from app.security.tokens import new_join_code
from app.services import audit
from app.services import extensions as extension_service
from app.services import venues as venue_service

DEMO_PASSWORD = "reproreview-demo"
DEMO_SLUG = "mlsys-2026"

STAFF = [
    ("Ada Lovelace", "ada.lovelace@uni.example", Role.chair),
    ("Charles Babbage", "charles.babbage@uni.example", Role.chair),
    ("Grace Hopper", "grace.hopper@uni.example", Role.ta),
    ("Alan Turing", "alan.turing@uni.example", Role.ta),
]

# (group name, project title, abstract) — the kind of projects an ML-systems course gets.
PROJECTS = [
    ("Warp Speed", "Fusing LayerNorm and GELU in a single Triton kernel",
     "We write a fused LayerNorm+GELU kernel in Triton and compare it with PyTorch eager and torch.compile on an "
     "A100. Fusion removes one round trip to HBM; on hidden sizes 1024-8192 the kernel is 1.8-3.1x faster than eager."),
    ("Tiled", "Shared-memory tiling for FP16 GEMM on consumer GPUs",
     "A CUDA GEMM with shared-memory tiling, register blocking and double buffering reaches 71% of cuBLAS on an RTX "
     "3090. We study how tile shape trades occupancy for reuse and report a roofline analysis."),
    ("FlashLite", "Re-implementing FlashAttention-2 forward pass for education",
     "We re-implement the FlashAttention-2 forward pass in 400 lines of CUDA with online softmax and tiling, verify it "
     "against PyTorch to 1e-3, and measure memory savings of 5-9x at sequence length 4096."),
    ("Sparse Squad", "2:4 structured sparsity for BERT inference on Ampere",
     "Pruning BERT-base to 2:4 sparsity and fine-tuning recovers 98.7% of dense accuracy on SST-2; cuSPARSELt kernels "
     "give a 1.3x end-to-end speed-up on an A100."),
    ("Pipeline Pals", "GPipe versus 1F1B pipeline schedules for GPT-2 training",
     "We compare GPipe and 1F1B pipeline parallel schedules across 4 GPUs for GPT-2 medium, measuring bubble overhead, "
     "activation memory and throughput as micro-batch count varies."),
    ("ZeRO Heroes", "Memory savings of ZeRO stages 1-3 on a 1.3B model",
     "Using DeepSpeed, we measure per-GPU memory and step time of ZeRO stages 1, 2 and 3 on 8 GPUs for a 1.3B parameter "
     "transformer; stage 3 cuts memory by 6.2x at a 21% throughput cost."),
    ("AllReduce", "Gradient compression with PowerSGD over slow interconnects",
     "PowerSGD rank-4 compression on ResNet-50 training over 10 Gbit Ethernet reaches the baseline's accuracy within "
     "0.4% while reducing communication time per step by 74%."),
    ("Elastic", "Fault-tolerant data-parallel training with torchrun elastic",
     "We inject worker failures into torchrun elastic training of a ResNet-18 and measure recovery time and lost work "
     "with checkpoint intervals from 1 to 20 minutes."),
    ("Tiny Wake", "Keyword spotting on the Arduino Nano 33 BLE Sense with TFLite Micro",
     "A depthwise-separable CNN for 12-class keyword spotting quantised to int8 fits in 180 KB of flash, runs in 96 ms "
     "per inference on the nRF52840 and reaches 91% accuracy on Speech Commands."),
    ("Gesture Gang", "IMU gesture recognition on a Cortex-M4 with 20 KB of RAM",
     "We classify five wrist gestures from the Nano 33 BLE Sense IMU with a 1D CNN; int8 quantisation keeps accuracy "
     "at 94.5% while RAM use drops to 18 KB and latency to 11 ms."),
    ("Quantum Leap", "Post-training quantisation versus QAT for MobileNetV2 on microcontrollers",
     "Comparing post-training int8 quantisation with quantisation-aware training for MobileNetV2-0.35 on Visual Wake "
     "Words: QAT recovers 2.9 points of accuracy at identical latency on a Cortex-M7."),
    ("Anomaly Hunters", "Autoencoder anomaly detection for machine sounds on TinyML hardware",
     "A dense autoencoder from the MLPerf Tiny benchmark detects anomalous fan and pump sounds with AUC 0.86 while "
     "running in 3 ms on an STM32; we reproduce the reference and study pruning."),
    ("FedUp", "Client drift in federated learning on non-IID CIFAR-10",
     "We measure how FedAvg degrades as Dirichlet label skew increases and compare FedProx and SCAFFOLD; SCAFFOLD "
     "closes 70% of the gap to IID training at alpha 0.1."),
    ("Flower Power", "Federated keyword spotting across simulated phones with Flower",
     "Using Flower with 100 simulated clients, we train a keyword-spotting model federatedly and study the effect of "
     "client sampling rate and local epochs on accuracy and communication."),
    ("Private Parts", "Differentially private federated averaging: the accuracy cost of epsilon",
     "Adding DP-SGD with per-client clipping to FedAvg on FEMNIST, we chart accuracy against epsilon from 1 to 16 and "
     "find the knee at epsilon 4 with a 3.1 point loss."),
    ("Fair Share", "Fairness across clients in federated learning with q-FedAvg",
     "q-FedAvg reduces the variance of per-client accuracy by 41% on a non-IID Shakespeare split at a 1.2 point cost "
     "in mean accuracy; we reproduce the original paper's trends."),
    ("Compile Time", "When does torch.compile pay off? Compilation cost versus speed-up",
     "Across 30 models from TorchBench we measure torch.compile's compilation time and steady-state speed-up on CPU "
     "and GPU, and give a rule for when compilation amortises within one training run."),
    ("Batch Norm Bandits", "Serving LLMs with continuous batching on one GPU",
     "We build a minimal continuous-batching server with paged KV cache for a 1B model and compare throughput and "
     "tail latency with static batching at request rates from 1 to 50 per second."),
    ("Cache Me", "KV-cache quantisation to 4 bits for long-context inference",
     "Quantising the KV cache of Llama-style models to 4 bits with per-channel scales keeps perplexity within 0.1 on "
     "WikiText-2 while doubling the usable context length on a 24 GB GPU."),
    ("Energy Savers", "Measuring energy per inference: GPU versus microcontroller",
     "We measure energy per inference of a keyword-spotting model on an A100, a Jetson Nano and an Arduino Nano 33 BLE "
     "Sense with external power monitors, spanning five orders of magnitude."),
]

FIRST = ["Amara", "Bao", "Chiara", "Dmitri", "Elif", "Farah", "Gabriel", "Hana", "Ivan", "Jia", "Kofi", "Lena",
         "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara", "Uma", "Viktor", "Wei", "Ximena", "Yusuf",
         "Zoe", "Aarav", "Beatriz", "Callum", "Daria", "Emeka", "Freya", "Goran", "Helga", "Ines", "Jonas", "Keiko",
         "Luca", "Maya", "Noah", "Olga", "Pedro", "Rania", "Sven", "Tomás", "Ulla", "Valentina", "Wanjiru", "Xavier",
         "Yara", "Zainab", "Arjun", "Bianca", "Cyrus", "Dalia", "Erik", "Fatima", "Gustav", "Hiro", "Isla", "Jamal",
         "Kira", "Lars", "Mina"]
LAST = ["Okafor", "Nguyen", "Rossi", "Petrov", "Yilmaz", "Haddad", "Silva", "Sato", "Kowalski", "Chen", "Mensah",
        "Schmidt", "García", "Johnson", "Farouk", "Sharma", "Murphy", "Moreno", "Virtanen", "Singh", "Patel", "Novak",
        "Zhang", "López", "Demir", "Dubois", "Mehta", "Costa", "Fraser", "Ivanova", "Eze", "Larsen", "Horvat", "Berg",
        "Ferreira", "Weber", "Tanaka", "Bianchi", "Cohen", "Andersen", "Smirnova", "Almeida", "Saleh", "Lund",
        "Ramírez", "Koskinen", "Romano", "Kamau", "Dupont", "Hassan", "Bello", "Kapoor", "Marin", "Rahimi", "Nilsson",
        "Ali", "Lindqvist", "Kimura", "Campbell", "Abdi", "Brandt", "Ito", "Olsen", "Karimi"]


def demo_student_email(first: str, last: str) -> str:
    import unicodedata

    def ascii_(s: str) -> str:
        return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    return f"{ascii_(first)}.{ascii_(last)}@student.uni.example"


def seed_demo(session: Session, *, now: datetime | None = None, settings=None) -> Venue:  # noqa: ANN001
    """Create the demo venue if it is missing (idempotent); return it. With `settings` (the blob store),
    eight groups have uploaded a draft PDF."""
    existing = session.exec(select(Venue).where(Venue.slug == DEMO_SLUG)).first()
    if existing is not None:
        return existing
    now = now or datetime.now(UTC)
    rng = random.Random(2026)
    pw = hash_password(DEMO_PASSWORD)
    admin = session.exec(select(User).where(User.email == "admin@uni.example")).first()
    if admin is None:
        admin = User(email="admin@uni.example", full_name="Site Admin", is_admin=True, password_hash=pw)
        session.add(admin)
        session.flush()
    venue = Venue(slug=DEMO_SLUG, title="MLSys 2026", course_code="CS 4803 / 7643 ML Systems",
                  timezone="Europe/London", phase=Phase.submission.value, group_min=2, group_max=4, page_limit=8)
    session.add(venue)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=admin, action="venue.create", summary="created MLSys 2026 (demo)")
    staff_users = []
    for name, email, role in STAFF:
        user = User(email=email, full_name=name, password_hash=pw, timezone="Europe/London")
        session.add(user)
        session.flush()
        session.add(Member(venue_id=venue.id, user_id=user.id, role=role.value))
        staff_users.append(user)
    chair = staff_users[0]
    for kind, days in (("submission", 14), ("bidding", 17), ("review", 31), ("response", 38), ("discussion", 45)):
        venue_service.set_deadline(session, chair, venue, kind, (now + timedelta(days=days)).replace(
            hour=17, minute=0, second=0, microsecond=0), now=now)

    # 60 students: 20 groups of 2-4 (sizes drawn, summing to 57), and 3 students still without a group.
    names = list(zip(FIRST, LAST, strict=True))
    rng.shuffle(names)
    sizes = [3] * 20
    for i in rng.sample(range(20), 5):
        sizes[i] = 4
    for i in rng.sample([i for i in range(20) if sizes[i] == 3], 8):
        sizes[i] = 2
    students = []
    for i, (first, last) in enumerate(names[:60]):
        user = User(email=demo_student_email(first, last), full_name=f"{first} {last}", password_hash=pw,
                    student_id=f"s{2600100 + i}")
        session.add(user)
        session.flush()
        member = Member(venue_id=venue.id, user_id=user.id, role=Role.student.value)
        session.add(member)
        students.append(member)
    session.flush()
    cursor = 0
    groups = []
    for (group_name, _title, _abstract), size in zip(PROJECTS, sizes, strict=True):
        group = Group(venue_id=venue.id, name=group_name, join_code=new_join_code())
        session.add(group)
        session.flush()
        for member in students[cursor:cursor + size]:
            member.group_id = group.id
            session.add(member)
        cursor += size
        groups.append(group)
    session.flush()
    # Most groups have registered their paper (title, abstract, keywords); a few have not yet.
    keywords = ["GPU kernels"] * 4 + ["distributed training"] * 4 + ["TinyML"] * 4 + ["federated learning"] * 4 + \
        ["ML compilers", "LLM serving", "LLM inference", "energy"]
    number = 0
    for i, (group, (_name, title, abstract), kw) in enumerate(zip(groups, PROJECTS, keywords, strict=True)):
        if i in (5, 17):
            continue
        number += 1
        session.add(Submission(venue_id=venue.id, group_id=group.id, number=number, title=title,
                               abstract=abstract, keywords=[kw]))
    session.flush()
    lead = session.exec(select(Member).where(Member.group_id == groups[8].id)).first()
    extension_service.request_extension(
        session, session.get(User, lead.user_id), venue, groups[8].id,
        "Our Arduino Nano 33 BLE Sense arrived broken and the replacement ships next week; we need it to measure "
        "on-device latency for the paper.", now + timedelta(days=19))
    if settings is not None:
        _this_term_drafts(session, settings, venue, now)
    return venue


def _this_term_drafts(session: Session, settings, venue: Venue, now: datetime) -> None:  # noqa: ANN001
    """Eight groups have uploaded a first draft PDF (format-checked); one forgot to anonymise it, so the
    chairs see a format error to follow up."""
    from app.demo_papers import draft_paper, paper_pdf
    from app.services import submissions as submission_service

    subs = session.exec(select(Submission).where(Submission.venue_id == venue.id)
                        .order_by(Submission.number).limit(8)).all()
    for i, sub in enumerate(subs):
        people = session.exec(select(User).join(Member, Member.user_id == User.id)
                              .where(Member.group_id == sub.group_id).order_by(Member.id)).all()
        authors = [", ".join(u.full_name for u in people), "School of Informatics", people[0].email] if i == 3 \
            else None
        data = paper_pdf(draft_paper(sub.title, sub.abstract, authors=authors))
        submission_service.upload_revision(session, settings, people[0], venue, sub, data, "draft.pdf",
                                           now=now - timedelta(days=1, hours=i))


def demo_logins(session: Session) -> list[tuple[str, str, str]]:
    """(role, email, what they see) for the README and the demo banner."""
    venue = session.exec(select(Venue).where(Venue.slug == DEMO_SLUG)).first()
    rows = [("site admin", "admin@uni.example", "every venue")]
    rows += [(role.value if role != Role.chair else "lecturer (chair)", email, "the chair/TA dashboard")
             for _n, email, role in STAFF[::2]]
    grouped = session.exec(select(User).join(Member, Member.user_id == User.id)
                           .where(Member.venue_id == venue.id, Member.group_id != None)  # noqa: E711
                           .order_by(Member.id)).first()
    ungrouped = session.exec(select(User).join(Member, Member.user_id == User.id)
                             .where(Member.venue_id == venue.id, Member.role == "student",
                                    Member.group_id == None).order_by(Member.id)).first()  # noqa: E711
    if grouped:
        rows.append(("student in a group", grouped.email, "their group and deadlines"))
    if ungrouped:
        rows.append(("student without a group", ungrouped.email, "create or join a group"))
    last = session.exec(select(Venue).where(Venue.slug == LAST_TERM_SLUG)).first()
    if last is not None:
        first = session.exec(select(Submission).where(Submission.venue_id == last.id, Submission.number == 1)).one()
        author = session.exec(select(User).join(Member, Member.user_id == User.id)
                              .where(Member.group_id == first.group_id).order_by(Member.id)).first()
        from app.models import Assignment

        reviewer = session.exec(select(User).join(Member, Member.user_id == User.id)
                                .join(Assignment, Assignment.member_id == Member.id)
                                .where(Assignment.submission_id == first.id).order_by(Assignment.id)).first()
        rows.append(("author (last term)", author.email, "#1's PDF, runs and claim checks, reviews and response"))
        rows.append(("reviewer (last term)", reviewer.email, "their review of #1 beside its PDF, the discussion"))
    finished = session.exec(select(Venue).where(Venue.slug == FINISHED_SLUG)).first()
    if finished is not None:
        student = session.exec(select(User).join(Member, Member.user_id == User.id)
                               .where(Member.venue_id == finished.id, Member.group_id != None)  # noqa: E711
                               .order_by(Member.id)).first()
        if student is not None:
            rows.append(("student (MLSys 2024)", student.email, "their released marks and the lecturer's feedback"))
    return rows


LAST_TERM_SLUG = "mlsys-2025"

def _past_venue(session: Session, slug: str, title: str) -> tuple[Venue, User, User, Member]:
    """An earlier term's venue of the demo course, run by this term's first lecturer and TA (in submission for
    now: the caller walks it through its phases). Returns the venue, the chair, the TA and the TA's membership."""
    chair = session.exec(select(User).where(User.email == STAFF[0][1])).one()
    ta = session.exec(select(User).where(User.email == STAFF[2][1])).one()
    venue = Venue(slug=slug, title=title, course_code="CS 4803 / 7643 ML Systems", timezone="Europe/London",
                  phase=Phase.submission.value, group_min=2, group_max=3, page_limit=8)
    session.add(venue)
    session.flush()
    session.add(Member(venue_id=venue.id, user_id=chair.id, role=Role.chair.value))
    ta_member = Member(venue_id=venue.id, user_id=ta.id, role=Role.ta.value)
    session.add(ta_member)
    return venue, chair, ta, ta_member


def seed_last_term(session: Session, *, now: datetime | None = None, settings=None) -> Venue:  # noqa: ANN001
    """Last term's course ("MLSys 2025"), over now and in moderation: every deadline is in the past. Six
    papers with real PDFs (app.demo_papers, NeurIPS format, checked on upload; their code artifacts and runs
    come from `seed_last_term_artifacts` and `finish_demo_runs`, committed after this); three reviews per
    paper written about that paper, one reviewer who never submitted, a reviewers' discussion, the authors'
    responses and their helpfulness ratings.

    Everything goes through the services (uploads, artifacts, assignments, reviews, comments) at the time it
    happened in the term, so the demo shows exactly what the product does. Idempotent."""
    existing = session.exec(select(Venue).where(Venue.slug == LAST_TERM_SLUG)).first()
    if existing is not None:
        return existing
    if settings is None:
        from app.settings import get_settings

        settings = get_settings()
    now = now or datetime.now(UTC)
    venue, chair, _ta, _ta_member = _past_venue(session, LAST_TERM_SLUG, "MLSys 2025 (last term)")
    due = _last_term_deadlines(session, chair, venue, now)
    groups = _last_term_groups(session, venue)
    subs = _last_term_submissions(session, settings, venue, groups, at=due["submission"] - timedelta(days=2))
    pairs = _last_term_assignment(session, chair, venue, subs, groups)
    _last_term_reviews(session, venue, pairs, at=due["review"] - timedelta(days=3))
    _last_term_response(session, venue, subs, groups, pairs)
    venue.phase = Phase.moderation.value  # the discussion ended a fortnight ago; the lecturers are marking
    session.add(venue)
    session.flush()
    return venue


def _last_term_deadlines(session: Session, chair: User, venue: Venue, now: datetime) -> dict[str, datetime]:
    """Deadlines of a term that is over: set by the chair ten weeks ago, all passed by now."""
    due = {kind: (now - timedelta(days=days)).replace(hour=17, minute=0, second=0, microsecond=0)
           for kind, days in (("submission", 42), ("review", 28), ("response", 21), ("discussion", 14))}
    for kind, at in due.items():
        venue_service.set_deadline(session, chair, venue, kind, at, now=now - timedelta(days=70))
    return due


def _last_term_groups(session: Session, venue: Venue) -> list[tuple[Group, list[tuple[User, Member]]]]:
    """Six groups of two or three alumni (their addresses at alumni.uni.example)."""
    pw = hash_password(DEMO_PASSWORD)
    groups = []
    for g, (name, _title, _abstract) in enumerate(PROJECTS[8:14]):
        group = Group(venue_id=venue.id, name=f"{name} '25", join_code=new_join_code())
        session.add(group)
        session.flush()
        people = []
        for k in range(3 if g % 2 == 0 else 2):
            first, last = FIRST[(g * 3 + k) % len(FIRST)], LAST[(g * 3 + k + 29) % len(LAST)]
            email = demo_student_email(first, last).replace("@student.", "@alumni.")
            user = User(email=email, full_name=f"{first} {last}", password_hash=pw)
            session.add(user)
            session.flush()
            member = Member(venue_id=venue.id, user_id=user.id, role=Role.student.value, group_id=group.id)
            session.add(member)
            people.append((user, member))
        groups.append((group, people))
    session.flush()
    return groups


def _last_term_submissions(session: Session, settings, venue: Venue, groups: list, *,  # noqa: ANN001
                           at: datetime) -> list[Submission]:
    """Each group registers its paper and uploads its PDF (format-checked on upload)."""
    from app.demo_papers import LAST_TERM_PAPERS, paper_pdf
    from app.services import submissions as submission_service

    subs = []
    for (group, people), paper in zip(groups, LAST_TERM_PAPERS, strict=True):
        user, member = people[0]
        sub = submission_service.save_submission(session, user, venue, member, title=paper.title,
                                                 abstract=paper.abstract, keywords=paper.keywords, now=at)
        slug = "-".join(paper.title.lower().split()[:4])
        submission_service.upload_revision(session, settings, user, venue, sub, paper_pdf(paper), f"{slug}.pdf",
                                           now=at)
        subs.append(sub)
    return subs


def seed_last_term_artifacts(session: Session, settings) -> int:  # noqa: ANN001
    """Last term's code artifacts, as each group submitted them before the deadline; every new artifact's
    smoke run goes to a rig once this transaction commits. Committed on its own, after the rest of the demo,
    so the runs do not race the demo's other writes (and its mail) for SQLite's lock. Returns how many
    artifacts it stored (0 when they exist: idempotent)."""
    from app.demo_papers import LAST_TERM_PAPERS, artifact_tar
    from app.models import Artifact
    from app.services import submissions as submission_service

    venue = session.exec(select(Venue).where(Venue.slug == LAST_TERM_SLUG)).one()
    subs = session.exec(select(Submission).where(Submission.venue_id == venue.id).order_by(Submission.number)).all()
    if session.exec(select(Artifact).where(Artifact.submission_id.in_([s.id for s in subs]))).first() is not None:
        return 0
    due = session.exec(select(Deadline).where(Deadline.venue_id == venue.id, Deadline.kind == "submission")).one()
    at = due.due_at.replace(tzinfo=due.due_at.tzinfo or UTC) - timedelta(days=2)
    phase, venue.phase = venue.phase, Phase.submission.value  # back in the term, before its deadline
    for sub, paper in zip(subs, LAST_TERM_PAPERS, strict=True):
        user = session.exec(select(User).join(Member, Member.user_id == User.id)
                            .where(Member.group_id == sub.group_id).order_by(Member.id)).first()
        slug = "-".join(paper.title.lower().split()[:4])
        submission_service.artifact_from_archive(session, settings, user, venue, sub, artifact_tar(paper),
                                                 f"{slug}-code.tar.gz", now=at)
    venue.phase = phase
    session.add(venue)
    session.flush()
    return len(subs)


def _last_term_assignment(session: Session, chair: User, venue: Venue, subs: list[Submission],
                          groups: list) -> list[tuple[Submission, int, User, Member]]:
    """Three reviewers per paper from the three following groups (never the authors' own group)."""
    from app.services.assignments import Change, apply_changes

    changes, pairs = [], []
    for i, sub in enumerate(subs):
        for step in (1, 2, 3):
            people = groups[(i + step) % len(groups)][1]
            user, member = people[(i + step) % len(people)]
            changes.append(Change("add", sub.id, member.id))
            pairs.append((sub, step - 1, user, member))
    venue.phase = Phase.assignment.value
    apply_changes(session, chair, venue, changes, action="assignment.manual", summary="demo assignment")
    return pairs


def _last_term_reviews(session: Session, venue: Venue, pairs: list, *, at: datetime) -> None:
    """Each reviewer writes the review app.demo_papers has for them; the last one never submitted (a draft)."""
    from app.demo_papers import LAST_TERM_PAPERS
    from app.services import reviews as review_service

    rng = random.Random(2025)
    venue.phase = Phase.review.value
    session.add(venue)
    session.flush()
    for n, (sub, k, user, member) in enumerate(pairs):
        paper = LAST_TERM_PAPERS[sub.number - 1]
        text = paper.reviews[k]
        quality = (7, 8, 6, 7, 8, 6)[sub.number - 1]
        answers = {
            "summary": text.summary, "strengths": text.strengths, "weaknesses": text.weaknesses,
            "code_review": text.code_review, "questions": text.questions,
            "soundness": rng.randint(2, 4), "presentation": rng.randint(2, 4), "contribution": rng.randint(2, 3),
            # the flash claim failed on the rig: the reviewers who noticed mark reproducibility down
            "runs_from_readme": rng.randint(3, 4), "reproducible": 2 if sub.number == 1 and k == 0 else
            rng.randint(3, 4), "code_quality": rng.randint(2, 4), "documentation_quality": rng.randint(2, 4),
            "overall": max(1, min(10, quality + rng.choice((-1, 0, 0, 1)))), "confidence": rng.randint(2, 4),
        }
        when = at - timedelta(hours=3 * (len(pairs) - n))
        if n == len(pairs) - 1:  # one reviewer never finished: a draft, past the deadline now
            review_service.save_draft(session, user, venue, member, sub, {"summary": answers["summary"]}, 0,
                                      now=when)
            continue
        review_service.submit_review(session, user, venue, member, sub, answers, 0, now=when)
    for sub, k, user, member in pairs:  # Reviewer A of each paper opens the reviewers' discussion
        if k == 0:
            rel = review_service.relation(session, member, sub)
            review_service.post_comment(session, user, venue, member, sub,
                                        LAST_TERM_PAPERS[sub.number - 1].reviewer_post, audience="reviewers",
                                        is_staff=False, rel=rel)


def _last_term_response(session: Session, venue: Venue, subs: list[Submission], groups: list,
                        pairs: list) -> None:
    """Each group answers its reviews (one response, about its paper), posts once and rates the reviews."""
    from app.demo_papers import LAST_TERM_PAPERS
    from app.services import reviews as review_service

    rng = random.Random(2525)
    venue.phase = Phase.response.value
    session.add(venue)
    session.flush()
    for sub, (_group, people) in zip(subs, groups, strict=True):
        paper = LAST_TERM_PAPERS[sub.number - 1]
        author, author_m = people[0]
        review_service.save_response(session, author, venue, sub, paper.response, None)
        rel = review_service.relation(session, author_m, sub)
        review_service.post_comment(session, author, venue, author_m, sub, paper.author_post, is_staff=False,
                                    rel=rel)
        for review in session.exec(select(review_service.Review).where(
                review_service.Review.submission_id == sub.id,
                review_service.Review.status == "submitted")).all():
            review_service.rate_review(session, author, venue, author_m, review, rng.randint(3, 5))
    venue.phase = Phase.discussion.value
    session.add(venue)
    session.flush()


def build_demo(engine, settings, *, now: datetime | None = None) -> dict:  # noqa: ANN001
    """The whole demo, each part once (idempotent): this term, last term (PDFs, artifacts, reviews), the
    finished term; committed, then last term's artifact runs carried out. Returns the runs' statuses counted
    and how long the build took."""
    import time

    started = time.monotonic()
    with Session(engine) as session:
        seed_demo(session, now=now, settings=settings)
        seed_last_term(session, now=now, settings=settings)
        seed_finished(session, now=now, export_dir=settings.data_dir / "exports")
        session.commit()
    with Session(engine) as session:
        seed_last_term_artifacts(session, settings)
        session.commit()
    runs = finish_demo_runs(engine, settings)
    return {"runs": runs, "seconds": round(time.monotonic() - started, 1)}


def finish_demo_runs(engine, settings, *, timeout_s: float = 120.0) -> dict[str, int]:  # noqa: ANN001
    """After the seed's commit its artifacts' smoke runs are on their way to a rig (the API's embedded rig
    without Redis, the queue with it). Wait for the embedded rig; run what is still queued here, on the local
    rig, sandboxed as always; return the runs' statuses counted ({'passed': 5, 'failed': 1})."""
    import threading
    import time

    from app.jobs.runs import LocalRigClient
    from app.models.run import Run
    from runners.jobs import execute_run

    with Session(engine) as session:
        venue = session.exec(select(Venue).where(Venue.slug == LAST_TERM_SLUG)).one()
        run_ids = list(session.exec(select(Run.id).where(Run.venue_id == venue.id)).all())
    deadline = time.monotonic() + timeout_s
    for thread in threading.enumerate():
        if thread.name in {f"embedded-rig-run-{i}" for i in run_ids}:
            thread.join(max(0.0, deadline - time.monotonic()))
    with Session(engine) as session:
        queued = [r.id for r in session.exec(select(Run).where(Run.id.in_(run_ids), Run.status == "queued")).all()]
    for run_id in queued:
        execute_run(LocalRigClient(engine, settings, "local"), run_id)
    with Session(engine) as session:
        counts: dict[str, int] = {}
        for run in session.exec(select(Run).where(Run.id.in_(run_ids))).all():
            counts[run.status] = counts.get(run.status, 0) + 1
    return counts


FINISHED_SLUG = "mlsys-2024"


def seed_finished(session: Session, *, now: datetime | None = None, export_dir=None) -> Venue:  # noqa: ANN001
    """A finished venue ("MLSys 2024") in the released phase: reviews, calibrated marks, review-quality marks
    (most confirmed from the suggestion, one overridden), a group mark adjusted with its reason, the release and
    a Moodle export (written to `export_dir` when given), all made through the services. Idempotent."""
    from app.services import moderation
    from app.services import reviews as review_service
    from app.services.assignments import Change, apply_changes

    existing = session.exec(select(Venue).where(Venue.slug == FINISHED_SLUG)).first()
    if existing is not None:
        return existing
    now = now or datetime.now(UTC)
    rng = random.Random(2024)
    pw = hash_password(DEMO_PASSWORD)
    venue, chair, ta, ta_member = _past_venue(session, FINISHED_SLUG, "MLSys 2024")
    groups: list[list[tuple[User, Member]]] = []
    for g, (name, title, abstract) in enumerate(PROJECTS[14:20]):
        group = Group(venue_id=venue.id, name=f"{name} '24", join_code=new_join_code())
        session.add(group)
        session.flush()
        people = []
        for k in range(3 if g % 2 else 2):
            first, last = FIRST[(g * 3 + k + 7) % len(FIRST)], LAST[(g * 3 + k + 41) % len(LAST)]
            user = User(email=demo_student_email(first, last).replace("@student.", "@class2024."),
                        full_name=f"{first} {last}", password_hash=pw, student_id=f"s24{g:02d}{k:02d}")
            session.add(user)
            session.flush()
            member = Member(venue_id=venue.id, user_id=user.id, role=Role.student.value, group_id=group.id)
            session.add(member)
            people.append((user, member))
        session.add(Submission(venue_id=venue.id, group_id=group.id, number=g + 1, title=title, abstract=abstract,
                               keywords=[]))
        groups.append(people)
    session.flush()
    subs = session.exec(select(Submission).where(Submission.venue_id == venue.id).order_by(Submission.number)).all()
    changes, pairs = [], []
    for i, sub in enumerate(subs):
        for step in (1, 2, 3):
            people = groups[(i + step) % len(groups)]
            user, member = people[i % len(people)]
            changes.append(Change("add", sub.id, member.id))
            pairs.append((sub, user, member))
    changes.append(Change("add", subs[0].id, ta_member.id))
    venue.phase = Phase.assignment.value
    apply_changes(session, chair, venue, changes, action="assignment.manual", summary="demo assignment")
    venue.phase = Phase.review.value
    session.add(venue)
    session.flush()
    quality = {sub.id: rng.randint(4, 8) for sub in subs}
    leniency = {}
    from app.demo_papers import FINISHED_REVIEWS, finished_summary

    for n, (sub, user, member) in enumerate(pairs):
        bias = leniency.setdefault(member.id, rng.choice((-1, 0, 0, 1)))
        strengths, weaknesses, code_review = FINISHED_REVIEWS[sub.number - 1][n % 3]
        answers = {
            "summary": finished_summary(sub.title, sub.abstract, n % 3),
            "strengths": strengths,
            "weaknesses": weaknesses,
            "soundness": rng.randint(2, 4), "presentation": rng.randint(2, 4), "contribution": rng.randint(2, 3),
            "runs_from_readme": rng.randint(2, 4), "reproducible": rng.randint(2, 4), "code_quality": rng.randint(2, 4),
            "documentation_quality": rng.randint(1, 4), "code_review": code_review,
            "overall": max(1, min(10, quality[sub.id] + bias + rng.choice((-1, 0, 0, 1)))),
            "confidence": rng.randint(2, 4),
        }
        review_service.submit_review(session, user, venue, member, sub, answers, 0, now=now)
    lecturer_answers = {
        "summary": f"The paper \"{subs[0].title}\" is summarised well by its abstract; the experiments in Section 4 "
                   "support the main claim.",
        "strengths": "Careful measurements with warm-up and repeats, reported as medians in Table 1.",
        "weaknesses": "No error bars in Figure 3, and the ablation in Section 5 covers one input size only.",
        "soundness": 3, "presentation": 3, "contribution": 3, "runs_from_readme": 4, "reproducible": 3,
        "code_quality": 3, "documentation_quality": 3,
        "code_review": "The artifact ran on the rig as documented; bench.py line 40 hard-codes the batch size.",
        "overall": quality[subs[0].id], "confidence": 4}
    review_service.submit_review(session, ta, venue, ta_member, subs[0], lecturer_answers, 0, now=now)
    for sub in subs[:3]:  # the authors rated the helpfulness of the reviews they read
        author, author_m = groups[sub.number - 1][0]
        venue.phase = Phase.response.value
        for review in session.exec(select(review_service.Review).where(
                review_service.Review.submission_id == sub.id, review_service.Review.status == "submitted")).all():
            review_service.rate_review(session, author, venue, author_m, review, rng.randint(2, 5))
    venue.phase = Phase.moderation.value
    session.add(venue)
    session.flush()
    moderation.set_calibration_item(session, chair, venue, subs[-1], quality[subs[-1].id],
                                    "marked by the TAs before the reviews came in")
    rows = moderation.review_marking(session, venue)
    for n, row in enumerate(rows):
        review = session.get(review_service.Review, row["review"].id)
        if n == 0:  # a marker who disagrees with the suggestion: an override, audited
            moderation.confirm_assessment(session, ta, venue, review, mark=min(100.0, (row["suggestion"]["mark"] or 60.0) + 15),
                                          feedback="Very specific about the runs: the best review of this paper.")
        else:
            moderation.confirm_assessment(session, ta, venue, review, accept_suggestion=True,
                                          feedback="Clear and specific; say more about the code next time."
                                          if n % 3 == 0 else "")
    moderation.override_mark(session, chair, venue, component="group", value=72, submission=subs[1],
                             reason="The rig's failed run was our GPU quota, not the artifact: moderated up "
                                    "after re-running it by hand.")
    moderation.release(session, chair, venue)
    venue.phase = Phase.released.value
    session.add(venue)
    session.flush()
    name, text = moderation.export_marks(session, venue, "moodle")
    if export_dir is not None:
        from pathlib import Path

        Path(export_dir).mkdir(parents=True, exist_ok=True)
        (Path(export_dir) / name).write_text(text, encoding="utf-8")
    audit.record(session, venue_id=venue.id, actor=chair, action="marks.export",
                 summary=f"exported the released marks for Moodle ({name})", format="moodle")
    return venue
