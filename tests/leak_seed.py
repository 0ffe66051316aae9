"""A realistic venue for the double-blind leak crawl, seeded through the services.

Three groups with distinctive names and members, each with a submission (a PDF whose metadata names its
authors, uploaded under a file name that names them too), a code artifact whose README, source and file
names carry an author's name and email, reviews (one reviewer signs only the chairs-only confidential field),
discussion in every audience, a response, ratings, finished runs whose logs name the authors, an extension
request, bids and an assignment job, and moderation (a calibration item, a reviewer excluded from calibration,
a review hidden and marked abusive, every review's quality marked with feedback, group and individual marks set
with reasons, each carrying a distinctive token). `Seed.forbidden(viewer)` says which identities, and which
marks, calibrated scores, bias estimates, flags and suggestions, a viewer must never see: before the release
no student sees any of them; after it (`Seed.released`) a student sees their own marks only.

Reviewer sets and groups do not overlap confusingly: every student reviews exactly one paper of another
group, and the external reviewer reviews #1 and #2, so for each non-staff viewer the forbidden set is
simply every identity outside their own group (students never see other students: group names and names
are identities, see permissions.can_view_group), which includes the design's minimum (the authors of the
papers they review, the reviewers of their own paper).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from app.jobs.mail import deliver_pending
from app.services import runs as run_service
from app.models import PHASES, Audience, Member, Phase, Submission, User, Venue
from app.models.run import RunStatus
from app.services import accounts, assignments, claims, extensions, groups, moderation, notifications, reviews
from app.services import submissions
from app.services import venues
from app.settings import Settings
from tests.api.test_submissions import make_pdf

# Group name -> its members (full name, email). Every word is distinctive: none occurs in the app's texts.
GROUPS = {
    "Zephyr Quokkas": [("Alessandra Marchetti-Oyelaran", "a.marchetti-oyelaran@students.lakeside.example"),
                       ("Bartholomew Krzyzanowski", "bkrzyzanowski@students.lakeside.example")],
    "Obsidian Narwhals": [("Cosima Haverbrook-Nakagawa", "cosima.haverbrook@students.lakeside.example"),
                          ("Dmitri Valdespino-Achterberg", "dvaldespino@students.lakeside.example")],
    "Saffron Pangolins": [("Evangelina Thistlewood", "evangelina.thistlewood@students.lakeside.example"),
                          ("Florian Abernathy-Okonkwo", "florian.okonkwo@students.lakeside.example")],
}
EXTERNAL = ("Ignatius Wrenfield-Castellanos", "i.wrenfield@partner-lab.example")   # role reviewer, no group
CHAIR = ("Octavia Lindqvist-Mbeki", "o.lindqvist@staff.lakeside.example")
TA = ("Philippa Greymoor-Sandoval", "p.greymoor@staff.lakeside.example")
OUTSIDER = ("Quentin Fairweather-Dunmore", "quentin.fairweather@elsewhere.example")

# submission number -> reviewers (person keys). Each student reviews one paper; the external reviewer two.
REVIEWERS = {1: ["cosima", "evangelina", "ignatius"], 2: ["florian", "alessandra", "ignatius"],
             3: ["bartholomew", "dmitri"]}
TITLES = {1: "Int8 Keyword Spotting on a Cortex-M4 Microcontroller",
          2: "Fused Attention Kernels for Small GPUs",
          3: "Federated Learning with Stragglers on Raspberry Pi Clusters"}
ABSTRACT = ("We measure latency and accuracy of a compact model on constrained hardware and compare it with a "
            "float baseline across compiler settings and memory layouts, and release code that reproduces it.")
MANIFEST = ('[artifact]\nrig = "local"\ntimeout = "5m"\n\n[[experiment]]\nid = "E1"\n'
            'command = "python src/train.py"\nmetrics = "m.json"\n')
# reproduce.toml with a claim whose text and metric name an author ({camel}, {login}: variants() of the first)
MANIFEST_CLAIM = '\n[[claim]]\nid = "C1"\nexperiment = "E1"\nmetric = "{login}_acc"\nvalue = 0.5\ntext = "As {camel} measured"\n'
REVIEW = {
    "summary": "The paper quantises a compact network to int8 and measures it on the target device in detail.",
    "strengths": "Careful measurements on real hardware, with a reproducible artifact and clear plots.",
    "weaknesses": "Only one dataset; no comparison with pruning or distillation; error bars are missing.",
    "soundness": 3, "presentation": 3, "contribution": 2, "runs_from_readme": 3, "reproducible": 3,
    "code_quality": 3, "documentation_quality": 2,
    "code_review": "The smoke run passed; the README misses the flashing step for the board.",
    "overall": 6, "confidence": 3,
}


# Overall scores per reviewer: #1's reviewers disagree (a flag), so calibrated scores and biases are distinctive.
OVERALL = {"cosima": 9, "evangelina": 3, "ignatius": 6, "florian": 7, "alessandra": 5, "bartholomew": 4}
# Moderation's free text, each with a word found nowhere else: what staff wrote, never for a student to read
# (the hidden review's reason, the exclusion's reason, the calibration item's note) or only for its owner after
# the release (a group's override reason, a reviewer's feedback, a member's override reason).
GROUP_MARK = (1, 73.7, "Moderated after the Quillmarsh viva: the demo held up.")   # #1's group mark, by hand
MEMBER_MARK = ("florian", 64.9, "Individual mark set after the Thornbasket appeal.")
REVIEW_MARK = ("alessandra", 57.3)   # a review-quality mark overriding the suggestion
HIDDEN_REASON = "Hidden for its Zanzibarquill tone towards the authors."
EXCLUDED_REASON = "Excluded from calibration: Brindlewort co-supervision."
CALIBRATION_NOTE = "Reference from the Marrowfen TA review."
FEEDBACK = {"cosima": "Glimmerwick", "evangelina": "Sporrandine", "ignatius": "Tamblethorn", "florian": "Vellumquist",
            "alessandra": "Orrisgate", "bartholomew": "Pewterhollow"}


def key_of(full_name: str) -> str:
    return full_name.split()[0].lower()


def variants(name: str) -> dict[str, str]:
    """The forms of a name that authors write in code and paths, by kind (what the masker must also catch)."""
    first, *rest = name.replace("-", " ").split()
    last = rest[0]
    return {"underscored": f"{first}_{last}".lower(), "camelcase": f"{first}{last}",
            "run together": f"{first}{last}".lower(), "login": f"{first[0]}{last}".lower()}


def student_id(email: str) -> str:
    """A distinctive student ID number per person (the roster's "ID number" column)."""
    return "s" + str(4_100_000 + sum(map(ord, email)) * 37 % 900_000)


@dataclass
class Person:
    key: str
    name: str
    email: str
    user: User
    member: Member | None
    role: str                 # student | reviewer | ta | chair | outsider
    group: str | None = None  # group name for students


@dataclass
class Seed:
    venue: Venue
    settings: Settings
    people: dict[str, Person]
    subs: dict[int, Submission]                       # number -> submission
    group_of_sub: dict[int, str]                      # number -> group name
    revision_ids: dict[int, list[int]]                # number -> revision ids
    runs: dict[int, list[int]]                        # number -> run ids
    review_ids: dict[int, list[int]]
    job_id: int
    artifact_paths: dict[int, set[str]] = field(default_factory=dict)  # number -> original + anonymized paths
    rig_token: str = ""
    # token -> (the people who may see it once their marks are released, what it is): marks and their texts
    marks: dict[str, tuple[frozenset[str], str]] = field(default_factory=dict)
    released: set[str] = field(default_factory=set)  # people whose marks are released now

    def identity(self, key: str) -> list[str]:
        """The strings that identify a person: full name, email, each distinctive part of the name, the forms
        authors write it in (joined by underscores, run together / CamelCase, initial + surname: see variants())
        and their student ID number."""
        p = self.people[key]
        parts = {w for word in p.name.split() for w in [word, *word.split("-")] if len(w) >= 5}
        sid = [p.user.student_id] if p.user.student_id else []
        return [p.name, p.email, p.email.split("@")[0], *sorted(parts), *variants(p.name).values(), *sid]

    def group_identity(self, group: str) -> list[str]:
        return [group, *group.split()]

    def forbidden(self, viewer: str) -> dict[str, str]:
        """token -> whose identity it is, for everything this viewer must never see (staff: nothing)."""
        v = self.people[viewer]
        if v.role in ("chair", "ta"):
            return {}
        out: dict[str, str] = {}
        for p in self.people.values():
            if p.role in ("chair", "ta", "outsider") or p.key == viewer:
                continue
            if v.group is not None and p.group == v.group:
                continue
            why = (f"author of #{self.number_of_group(p.group)}" if p.group else "reviewer") + f" {p.name}"
            for token in self.identity(p.key):
                out[token] = why
        for group in GROUPS:
            if group != v.group:
                for token in self.group_identity(group):
                    out[token] = f"group name {group}"
        for token, (owners, what) in self.marks.items():
            if viewer not in owners or viewer not in self.released:
                out[token] = what
        return out

    def number_of_group(self, group: str | None) -> int | None:
        return next((n for n, g in self.group_of_sub.items() if g == group), None)


def _targz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"project/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _png_with_text(key: str, text: str) -> bytes:
    """A 1x1 PNG with a tEXt chunk (as image tools write an Author or a path into it)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"tEXt", key.encode() + b"\x00" + text.encode("latin-1"))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _artifact_files(group: str, members: list[tuple[str, str]]) -> dict[str, bytes]:
    """README, source and a notes file named after an author: all name the authors; the binary does not.
    Beside them, every place the masker once skipped, each naming an author in one of their forms (variants()):
    file and directory names, a home path, a latin-1, a UTF-16 and a NUL-holding text file, a text file above
    the size the masker read, a pickle, a PNG's text chunk and a PDF's metadata."""
    import hashlib
    import pickle

    (name, email), (name2, email2) = members
    surname = name2.split()[-1].lower()
    v1, v2 = variants(name), variants(name2)
    readme = (f"# {group}: course project\n\nMaintained by {name} (<{email}>) and {name2}.\n\n"
              f"Questions: [mail us](mailto:{email2}).\n\nRun `python src/train.py`.\n")
    source = f'"""Training loop.\n\nAuthor: {name} <{email}>\n"""\nimport json\nprint(json.dumps({{"acc": 0.91}}))\n'
    manifest = MANIFEST + MANIFEST_CLAIM.format(login=v1["login"], camel=v1["camelcase"])
    return {"README.md": readme.encode(), "src/train.py": source.encode(), "reproduce.toml": manifest.encode(),
            f"notes/{surname}-lab-notes.md": f"Notes by {name2}.\n".encode(),
            "LICENSE": f"MIT License\n\nCopyright (c) 2025 {name}\n".encode(),
            "data/weights.bin": bytes(range(256)) * 4,
            f"results/{v1['underscored']}_results.csv": b"epoch,acc\n1,0.9\n",
            f"{v2['camelcase']}Experiments/run.py": f"ROOT = '/home/{v1['login']}/kws'  # {v2['camelcase']}\n".encode(),
            "notes/latin1.txt": f"Notizen von {name2}, Grüße an {v1['underscored']}.\n".encode("latin-1"),
            "notes/utf16.txt": f"Notes by {name}, see {v2['run together']}.\n".encode("utf-16"),
            "notes/nul.txt": f"written by {name2}\x00 end\n".encode(),
            "logs/big.log": "".join(f"step {i} {hashlib.sha256(str(i).encode()).hexdigest()}\n"
                                    for i in range(16_000)).encode() + f"saved by {v1['login']}\n".encode(),
            "models/model.pkl": pickle.dumps({"author": name, "email": email, "w": [0.1, 0.2]}),
            "figures/plot.png": _png_with_text("Author", name2),
            "paper/draft.pdf": make_pdf(1, author=name)}


def _git(cwd: Path, *args: str, name: str, email: str) -> str:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email, "LC_ALL": "C"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _git_repo(root: Path, files: dict[str, bytes], name: str, email: str) -> tuple[str, str]:
    """A local repository (its path names an author, as a GitHub URL with a username would) and its commit."""
    work = root / f"{name.split()[-1].lower()}-kws"
    work.mkdir(parents=True)
    _git(work, "init", "--quiet", "--initial-branch=main", name=name, email=email)
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    _git(work, "add", "-A", name=name, email=email)
    _git(work, "commit", "--quiet", "-m", f"work by {name}", name=name, email=email)
    return str(work), _git(work, "rev-parse", "HEAD", name=name, email=email)


def _finish_runs(db: Session, rig, sub: Submission, group: str, names: list[str],  # noqa: ANN001
                 emails: list[str]) -> list[int]:
    """Play a rig for every queued run: claim, a log that names the authors, a result (no worker needed)."""
    ids = []
    for run in run_service.list_runs(db, sub):
        if run.status != RunStatus.queued.value:
            continue
        run_service.claim_run(db, rig, run.id)
        run_service.append_log(db, rig, run, f"$ whoami\n{emails[0]}\nhello from {names[0]} and {names[1]}\n"
                                             f"git log: {names[1]} <{emails[1]}>\nteam: {group}\n", 0)
        v = variants(names[0])
        # metric names and the rig's reason as the authors' code printed them (names in them, in their forms)
        run_service.finish_run(db, rig, run, status="failed", reason=f"crashed in /home/{v['login']}/src/train.py "
                               f"({v['camelcase']})", metrics={"E1": {"acc": 0.91, f"{v['underscored']}_acc": 0.5}},
                               facts={"host": "rig-1"})
        ids.append(run.id)
    return ids


def seed(db: Session, settings: Settings, tmp: Path) -> Seed:
    """Build the venue, move it through its phases doing what each allows, and leave it in `closed`."""
    now = datetime.now(UTC)
    admin = accounts.create_user(db, "leak-admin@staff.lakeside.example", "Site Admin", is_admin=True)
    venue = venues.create_venue(db, admin, slug="leak-crawl", title="ML Systems 2026", course_code="MLS26",
                                timezone="Europe/Berlin", group_min=2, group_max=3)
    people: dict[str, Person] = {}

    def add(name: str, email: str, role: str) -> Person:
        user = accounts.create_user(db, email, name)
        user.student_id = student_id(email) if role == "student" else None
        db.add(user)
        member = venues.add_member(db, admin, venue, user, role) if role != "outsider" else None
        person = Person(key_of(name), name, email, user, member, role)
        people[person.key] = person
        return person

    chair = add(*CHAIR, "chair")
    add(*TA, "ta")
    add(*EXTERNAL, "reviewer")
    add(*OUTSIDER, "outsider")
    for kind, days in (("submission", 7), ("bidding", 8), ("review", 14), ("response", 21), ("discussion", 28)):
        venues.set_deadline(db, chair.user, venue, kind, now + timedelta(days=days))

    def advance(to: Phase) -> None:
        """Move through the phases one at a time, as the chair does (mails about them are queued)."""
        while venue.phase != to.value:
            venues.move_phase(db, chair.user, venue, PHASES[PHASES.index(Phase(venue.phase)) + 1].value)

    advance(Phase.submission)
    subs: dict[int, Submission] = {}
    group_of_sub: dict[int, str] = {}
    revision_ids: dict[int, list[int]] = {}
    for i, (group_name, members) in enumerate(GROUPS.items(), start=1):
        founder = add(*members[0], "student")
        group = groups.create_group(db, founder.user, venue, group_name, founder.member)
        founder.group = group_name
        for name, email in members[1:]:
            p = add(name, email, "student")
            groups.join_group(db, settings, p.user, venue, p.member, group.join_code)
            p.group = group_name
        # Submission 2's title names its founder, as students write it ("… (Surname et al.)"): every reader who
        # may not know the authors must see it masked, on pages, in the API and in mails.
        title = f"{TITLES[i]} ({founder.name.split()[-1]} et al.)" if i == 2 else TITLES[i]
        sub = submissions.save_submission(db, founder.user, venue, founder.member, title=title,
                                          abstract=f"{ABSTRACT} Code: /home/{variants(founder.name)['login']}/kws.",
                                          keywords=["TinyML", "systems"])
        subs[sub.number], group_of_sub[sub.number] = sub, group_name
        names, emails = [n for n, _ in members], [e for _, e in members]
        author_meta = "; ".join(names)
        filename = f"{names[0].split()[-1]}_{names[1].split()[-1]}_final.pdf"
        revs = [submissions.upload_revision(db, settings, founder.user, venue, sub,
                                            make_pdf(4, author=author_meta, title=TITLES[i]), filename)]
        if i == 1:  # a second revision, so revision ids are more than one per submission
            revs.append(submissions.upload_revision(db, settings, founder.user, venue, sub,
                                                    make_pdf(5, author=author_meta, title=TITLES[i]), filename))
        revision_ids[sub.number] = [r.id for r in revs]
        files = _artifact_files(group_name, members)
        if i == 3:
            url, commit = _git_repo(tmp / "repos", files, *members[1])
            submissions.artifact_from_git(db, settings, founder.user, venue, sub, url, commit)
        else:
            archive = f"{names[0].split()[-1].lower()}-{group_name.split()[0].lower()}-code.tar.gz"
            submissions.artifact_from_archive(db, settings, founder.user, venue, sub, _targz(files), archive)
        # a claim posted in the form, its text and metric naming an author (underscored, with the student ID)
        second = people[key_of(members[1][0])]
        claims.save_claim(db, founder.user, venue, sub, submissions.current_artifact(db, sub), claims.ClaimIn(
            key="F1", experiment="E1", metric=f"{variants(members[1][0])['underscored']}_acc", value=0.4,
            text=f"Measured by {variants(members[1][0])['underscored']} ({second.user.student_id})"))
    # G1 asks for an extension, with a reason that names a member (visible to G1 and staff only).
    g1 = people["alessandra"]
    extensions.request_extension(db, g1.user, venue, g1.member.group_id,
                                 "Bartholomew Krzyzanowski was in hospital for a week (note attached).",
                                 now + timedelta(days=9))
    rig, rig_token = run_service.create_rig(db, chair.user, name="bench-1", kind="local")
    runs = {}
    for n, sub in subs.items():
        authors = [p for p in people.values() if p.group == group_of_sub[n]]
        runs[n] = _finish_runs(db, rig, sub, group_of_sub[n], [p.name for p in authors], [p.email for p in authors])

    advance(Phase.assignment)
    for n, keys in REVIEWERS.items():
        for k in keys:
            assignments.set_bid(db, venue, people[k].member, subs[n], "eager")
    assignments.set_interests(db, people["ignatius"].member, ["int8 quantisation on microcontrollers"])
    job = assignments.start_job(db, settings, chair.user, venue, k=2, min_load=0, max_load=3)  # stays queued
    changes = [assignments.Change("add", subs[n].id, people[k].member.id) for n, keys in REVIEWERS.items()
               for k in keys]
    assignments.apply_changes(db, chair.user, venue, changes, action="assignment.manual")

    advance(Phase.review)
    review_ids: dict[int, list[int]] = {}
    for n, keys in REVIEWERS.items():
        for k in keys:
            p = people[k]
            answers = {**REVIEW, "overall": OVERALL.get(k, REVIEW["overall"])}
            if k == "cosima":  # her own name, in the field only chairs read
                answers["confidential"] = f"Signed {p.name} ({p.email}); I may know this code base."
            saved = reviews.save_draft(db, p.user, venue, p.member, subs[n], answers, 0)
            if k == "dmitri":  # stays a draft: staff see it, nobody else
                continue
            review = reviews.submit_review(db, p.user, venue, p.member, subs[n], answers, saved.review.version)
            review_ids.setdefault(n, []).append(review.id)

    def rel(p: Person, n: int) -> reviews.Relation:
        return reviews.relation(db, p.member, subs[n])

    def comment(k: str, n: int, body: str, audience: str = Audience.everyone.value, staff: bool = False) -> None:
        p = people[k]
        reviews.post_comment(db, p.user, venue, p.member, subs[n], body, audience=audience, is_staff=staff,
                             rel=rel(p, n))

    comment("cosima", 1, "Did you try per-channel quantisation? The README's numbers differ from Table 2.")
    comment("evangelina", 1, "Between reviewers: I think the baseline is weak.", Audience.reviewers.value)
    comment("ignatius", 1, f"For the chairs: {EXTERNAL[0]} here, I co-supervised a similar project last year.",
            Audience.chairs.value)
    comment("octavia", 1, "Chairs: please discuss whether the speed-up claim holds.", staff=True)
    comment("florian", 2, "The kernel timing excludes the host copy; please clarify.")
    notifications.queue_digests(db, now=now + timedelta(days=13), venue=venue)  # a day before reviews are due

    advance(Phase.response)
    for n in subs:
        author = next(p for p in people.values() if p.group == group_of_sub[n])
        # the authors sign their response and their post, in the forms they write their names in
        sign = variants(author.name)
        reviews.save_response(db, author.user, venue, subs[n], "We thank the reviewers; we added error bars. "
                              f"-- {sign['camelcase']} ({author.user.student_id})", None)
        comment(author.key, n, f"Per-channel quantisation is in the new appendix. ~{sign['underscored']}")
        for rid in review_ids.get(n, []):
            review = reviews.get_review_by_id(db, subs[n], rid)
            reviews.rate_review(db, author.user, venue, author.member, review, 4,
                                f"Helpful, thanks. {author.name}, {author.email}")

    advance(Phase.moderation)
    marks = _moderate(db, chair, venue, people, subs, group_of_sub, review_ids)
    advance(Phase.closed)  # release mails to the authors on the way (the marks themselves stay unreleased)
    for p in people.values():  # a mail to every person, whatever else the notifications send
        accounts.request_password_reset(db, settings, p.email)
    db.flush()
    seed_ = Seed(venue=venue, settings=settings, people=people, subs=subs, group_of_sub=group_of_sub,
                 revision_ids=revision_ids, runs=runs, review_ids=review_ids, job_id=job.id, rig_token=rig_token,
                 marks=marks)
    from app.artifacts.snapshot import list_files

    store = submissions.store(settings)
    for n, sub in subs.items():
        art = submissions.current_artifact(db, sub)
        seed_.artifact_paths[n] = {p for sha in (art.snapshot_sha, art.anonymized_sha) for p, _ in
                                   list_files(store, sha)}
    return seed_


def _moderate(db: Session, chair: Person, venue: Venue, people: dict[str, Person], subs: dict[int, Submission],
              group_of_sub: dict[int, str], review_ids: dict[int, list[int]]) -> dict[str, tuple[frozenset[str], str]]:
    """Moderate the venue through the services, then read back what the lecturers now see (calibrated scores, bias
    estimates, flags, suggestions and their reasons, every mark and its explanation): the tokens no student may
    see before the release, each with who may see it after."""
    user = chair.user
    by_member = {p.member.id: p for p in people.values() if p.member is not None}
    moderation.set_calibration_item(db, user, venue, subs[3], 4, CALIBRATION_NOTE)
    moderation.set_exclusion(db, user, venue, people["ignatius"].member, True, EXCLUDED_REASON)
    rows = {(by_member[r.member_id].key, n): r for n in subs for r in
            (moderation.get_review(db, venue, rid) for rid in review_ids.get(n, []))}
    moderation.moderate_review(db, user, venue, rows[("alessandra", 2)], hidden=True, abusive=True,
                               reason=HIDDEN_REASON)
    suggestions = {row["review"].id: row["suggestion"] for row in moderation.review_marking(db, venue)}
    for (key, _n), review in rows.items():
        feedback = f"{FEEDBACK[key]}: specific about the runs, say more about Table 2."
        if key == REVIEW_MARK[0]:
            moderation.confirm_assessment(db, user, venue, review, mark=REVIEW_MARK[1], feedback=feedback)
        elif suggestions[review.id]["complete"]:
            moderation.confirm_assessment(db, user, venue, review, accept_suggestion=True, feedback=feedback)
        else:
            levels = {c["id"]: c["levels"][-1][0] for c in moderation.scheme_config(db, venue)["rubric"]}
            moderation.confirm_assessment(db, user, venue, review, levels=levels, feedback=feedback)
    number, value, reason = GROUP_MARK
    moderation.override_mark(db, user, venue, component="group", value=value, reason=reason, submission=subs[number])
    key, value, reason = MEMBER_MARK
    moderation.override_mark(db, user, venue, component="individual", value=value, reason=reason,
                             member=people[key].member)

    tokens: dict[str, tuple[frozenset[str], str]] = {}

    def plant(text: str | float | None, owners: set[str], what: str) -> None:
        """A token and who may see it after the release; text that is several people's (a group's mark, the
        same number twice) is each of theirs."""
        if text is None:
            return
        if isinstance(text, float):
            # a number is a token only when it cannot be a score, a count or a date's part by chance
            forms = [f for f in {repr(text), f"{text:.2f}"} if len(f.replace(".", "").lstrip("0")) >= 3
                     and not f.endswith("0")]
        else:
            forms = [" ".join(text.split())]
        for form in forms:
            before, first = tokens.get(form, (frozenset(), what))
            tokens[form] = (before | owners, first)

    nobody: set[str] = set()
    for text in (HIDDEN_REASON, EXCLUDED_REASON, CALIBRATION_NOTE):
        plant(text, nobody, "a moderator's note")
    marks, queue = moderation.moderation_queue(db, venue)
    members_of = {n: {p.key for p in people.values() if p.group == group} for n, group in group_of_sub.items()}
    for sm in queue:
        n = sm.submission.number
        group = members_of[n]
        for f in sm.flags:
            plant(f["reason"], nobody, f"a flag of #{n}")
        plant(sm.calibrated, group, f"#{n}'s calibrated score")
        plant(sm.mark, group, f"#{n}'s group mark")
        for line in sm.explanation:
            plant(line, group, f"#{n}'s group mark explained")
    for member_id, (bias, sd) in marks.biases.items():
        plant(bias, nobody, f"the bias estimate of {by_member[member_id].name}")
    for row in moderation.review_marking(db, venue):
        key = by_member[row["review"].member_id].key
        for line in row["suggestion"]["reasons"]:
            plant(line, nobody, "a review-quality suggestion")
        plant(FEEDBACK[key], {key}, f"{people[key].name}'s feedback")
        plant(row["assessment"].mark, {key}, f"{people[key].name}'s review mark")
    for s in marks.students:
        key = by_member[s.member.id].key
        plant(s.total, {key}, f"{people[key].name}'s total")
        for component, value in s.components.items():
            plant(value, {key}, f"{people[key].name}'s {component} mark")
        for line in s.breakdown["explanation"]:
            plant(line, {key}, f"{people[key].name}'s mark explained")
    plant(MEMBER_MARK[2], {MEMBER_MARK[0]}, f"{people[MEMBER_MARK[0]].name}'s override reason")
    return tokens


def deliver_mail(db: Session, settings: Settings) -> int:
    """Send what the seeding queued (notifications) into the outbox directory, as the request middleware would."""
    db.commit()
    return deliver_pending(settings, db.connection(), limit=1000).sent

