"""The demo's papers: last term's six projects written out (sections, a figure, a results table), their
artifacts (a reproduce.toml and an evaluation script that really runs on the local rig), the reviews three
peers wrote of each, the authors' response and a discussion post — each about that paper's own topic.

`paper_pdf` draws a paper in NeurIPS geometry with reportlab (US Letter, a 5.5 in × 9 in text block, 10 pt
Times, the anonymous author block, an abstract, numbered sections, a figure, a table, references), so the
demo's PDFs pass the same format check as a student's upload.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field


@dataclass
class DemoReview:
    """What one reviewer wrote; scores are filled in by the caller."""

    summary: str
    strengths: str
    weaknesses: str
    code_review: str
    questions: str


@dataclass
class DemoPaper:
    title: str
    abstract: str
    sections: list[tuple[str, list[str]]]
    figure_caption: str
    figure_series: list[tuple[str, float]]  # bar label -> value
    figure_unit: str
    table_caption: str
    table: list[list[str]]  # header row first
    references: list[str]
    # the artifact: what the evaluation script prints and measures, and the claims the paper makes about it
    script: str
    claims: list[dict]
    reviews: list[DemoReview]
    response: str
    reviewer_post: str
    author_post: str
    keywords: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=lambda: ["Anonymous Author(s)", "Affiliation", "Address", "email"])


# ---- the artifact ----------------------------------------------------------------------------------------

MANIFEST_HEAD = """\
[artifact]
rig = "local"
timeout = "2m"

[[experiment]]
id = "E1"
command = "python3 evaluate.py --out results/metrics.json"
metrics = "results/metrics.json"
timeout = "1m"
"""

SCRIPT_HEAD = '''\
"""Evaluate the trained model on the held-out split (host-side replay of the on-device pipeline)."""
import argparse, json, os, random

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="results/metrics.json")
args = parser.parse_args()
rng = random.Random(7)
'''

SCRIPT_TAIL = '''
os.makedirs(os.path.dirname(args.out), exist_ok=True)
with open(args.out, "w") as f:
    json.dump(metrics, f, indent=2)
print("wrote", args.out, json.dumps(metrics))
'''


def manifest(paper: DemoPaper) -> str:
    out = [MANIFEST_HEAD]
    for claim in paper.claims:
        lines = ["", "[[claim]]"]
        for key in ("id", "text", "page", "experiment", "metric", "value", "direction", "tolerance"):
            value = claim[key] if key != "experiment" else "E1"
            lines.append(f"{key} = {json.dumps(value)}")
        out.append("\n".join(lines) + "\n")
    return "".join(out)


def readme(paper: DemoPaper) -> str:
    return (f"# {paper.title}\n\nReproduce the paper's numbers:\n\n```\npython3 evaluate.py --out "
            "results/metrics.json\n```\n\nThe claims it checks are in `reproduce.toml` (the page of the paper "
            "each one is on).\n")


def artifact_tar(paper: DemoPaper) -> bytes:
    """The artifact as a .tar.gz: reproduce.toml, README.md and evaluate.py (deterministic)."""
    files = {"reproduce.toml": manifest(paper), "README.md": readme(paper),
             "evaluate.py": SCRIPT_HEAD + paper.script + SCRIPT_TAIL}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# ---- the PDF ---------------------------------------------------------------------------------------------


def paper_pdf(paper: DemoPaper) -> bytes:
    """Draw the paper (NeurIPS geometry, anonymous) and return the PDF bytes."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    body = ParagraphStyle("body", fontName="Times-Roman", fontSize=10, leading=12, alignment=TA_JUSTIFY,
                          spaceAfter=6)
    title = ParagraphStyle("title", fontName="Times-Bold", fontSize=17, leading=20, alignment=TA_CENTER,
                           spaceAfter=18)
    author = ParagraphStyle("author", fontName="Times-Roman", fontSize=10, leading=12, alignment=TA_CENTER)
    centred = ParagraphStyle("centred", fontName="Times-Bold", fontSize=12, leading=14, alignment=TA_CENTER,
                             spaceBefore=14, spaceAfter=6)
    abstract = ParagraphStyle("abstract", parent=body, leftIndent=36, rightIndent=36)
    heading = ParagraphStyle("heading", fontName="Times-Bold", fontSize=12, leading=14, spaceBefore=10,
                             spaceAfter=6)
    caption = ParagraphStyle("caption", parent=body, fontSize=9, leading=11, alignment=TA_CENTER)
    ref = ParagraphStyle("ref", parent=body, fontSize=9, leading=11, leftIndent=12, firstLineIndent=-12)

    story = [Paragraph(paper.title, title)]
    story += [Paragraph(line, author) for line in paper.authors]
    story += [Paragraph("Abstract", centred), Paragraph(paper.abstract, abstract)]
    for n, (name, paragraphs) in enumerate(paper.sections, start=1):
        story.append(Paragraph(f"{n}&nbsp;&nbsp;{name}", heading))
        story += [Paragraph(text, body) for text in paragraphs]
        if n == 3 and paper.figure_series:  # the experiments: the figure and the table
            chart = Drawing(396, 150)
            bars = VerticalBarChart()
            bars.x, bars.y, bars.width, bars.height = 50, 25, 330, 110
            bars.data = [[v for _, v in paper.figure_series]]
            bars.categoryAxis.categoryNames = [k for k, _ in paper.figure_series]
            bars.categoryAxis.labels.fontName = bars.valueAxis.labels.fontName = "Times-Roman"
            bars.categoryAxis.labels.fontSize = bars.valueAxis.labels.fontSize = 8
            bars.valueAxis.valueMin = 0
            bars.bars[0].fillColor = colors.HexColor("#4a6fa5")
            chart.add(bars)
            chart.add(String(10, 140, paper.figure_unit, fontName="Times-Roman", fontSize=8))
            story.append(KeepTogether([chart, Paragraph(f"Figure 1: {paper.figure_caption}", caption)]))
            story.append(Spacer(1, 8))
            table = Table(paper.table, hAlign="CENTER")
            table.setStyle(TableStyle([
                ("FONT", (0, 0), (-1, -1), "Times-Roman", 9), ("FONT", (0, 0), (-1, 0), "Times-Bold", 9),
                ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black), ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
                ("LINEBELOW", (0, -1), (-1, -1), 0.8, colors.black), ("ALIGN", (1, 0), (-1, -1), "RIGHT")]))
            story.append(KeepTogether([Paragraph(f"Table 1: {paper.table_caption}", caption), table]))
            story.append(Spacer(1, 8))
    story.append(Paragraph("References", heading))
    story += [Paragraph(f"[{i}] {text}", ref) for i, text in enumerate(paper.references, start=1)]

    def page_number(canvas, doc) -> None:  # noqa: ANN001
        canvas.setFont("Times-Roman", 10)
        canvas.drawCentredString(letter[0] / 2, 40, str(doc.page))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=letter, leftMargin=102, rightMargin=102, topMargin=66, bottomMargin=66,  # + 6 pt frame padding
                            title="", author="", subject="", creator="", invariant=1)
    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return buf.getvalue()


# ---- last term's six papers ------------------------------------------------------------------------------

def _r(summary: str, strengths: str, weaknesses: str, code: str, questions: str) -> DemoReview:
    return DemoReview(summary, strengths, weaknesses, code, questions)


KWS = DemoPaper(
    title="Keyword spotting on the Arduino Nano 33 BLE Sense with TFLite Micro",
    abstract="We train a depthwise-separable CNN (DS-CNN) for 12-class keyword spotting on Speech Commands v2, "
             "quantise it to int8 and deploy it with TensorFlow Lite Micro on the nRF52840 of an Arduino Nano 33 "
             "BLE Sense. The model fits in 180 KB of flash, runs in 96 ms per one-second window and reaches 91% "
             "test accuracy, 1.2 points below the float model.",
    keywords=["TinyML", "keyword spotting"],
    sections=[
        ("Introduction", [
            "Always-on keyword spotting (KWS) must run on a microcontroller that draws a few milliwatts, so the "
            "model, the audio front end and the inference runtime share 1 MB of flash and 256 KB of RAM. We ask "
            "how much accuracy a DS-CNN keeps when it is quantised to int8 and deployed with TensorFlow Lite "
            "Micro (TFLM) on the nRF52840, and where the latency of one inference goes.",
            "Our contributions are a reproducible training and quantisation pipeline, measurements of flash, "
            "RAM and latency on the board, and a per-class error analysis that shows which keywords suffer most "
            "from quantisation."]),
        ("Method", [
            "Audio is cut into one-second windows and turned into 49 frames of 10 MFCC features with a 40 ms "
            "window and a 20 ms stride, as in the Hello Edge reference design. The DS-CNN has one standard "
            "convolution with 64 filters followed by four depthwise-separable blocks and a fully connected layer "
            "over the 12 classes (10 keywords, silence and unknown).",
            "We train for 30 epochs with Adam and background-noise augmentation, then apply full-integer "
            "post-training quantisation with 500 calibration windows. On the board the model runs under TFLM "
            "with a 22 KB tensor arena; latency is measured with the DWT cycle counter over 1000 windows."]),
        ("Experiments", [
            "Table 1 compares the float and the int8 model. Quantisation costs 1.2 points of accuracy; the int8 "
            "model is 4x smaller and 3.4x faster on the board. Figure 1 splits the 96 ms of one inference into "
            "the MFCC front end, the convolution layers and the classifier.",
            "The errors concentrate on the pairs 'no'/'go' and 'off'/'up', whose MFCC frames differ in few "
            "coefficients; int8 rounding removes part of that difference."]),
        ("Limitations", [
            "We measure on one board and one microphone gain; the accuracy is on the test split of Speech "
            "Commands, not on speech recorded through the board's own microphone, which is noisier. The flash "
            "figure counts the model and the TFLM kernels it uses."]),
        ("Conclusion", [
            "An int8 DS-CNN is a practical always-on keyword spotter for the Nano 33 BLE Sense: 91% accuracy "
            "within 96 ms and 180 KB of flash. Pruning the first convolution is the next step."]),
    ],
    figure_caption="Where the 96 ms of one inference go on the nRF52840 (int8 model).",
    figure_series=[("MFCC", 31.0), ("conv", 18.0), ("DS blocks", 41.0), ("FC", 6.0)], figure_unit="ms",
    table_caption="Float versus int8 DS-CNN on Speech Commands v2 (12 classes) and on the board.",
    table=[["model", "accuracy", "flash (KB)", "latency (ms)"], ["float32", "92.4%", "720", "330"],
           ["int8 (PTQ)", "91.2%", "180", "96"]],
    references=["P. Warden. Speech Commands: A dataset for limited-vocabulary speech recognition. 2018.",
                "Y. Zhang, N. Suda, L. Lai, V. Chandra. Hello Edge: Keyword spotting on microcontrollers. 2017.",
                "R. David et al. TensorFlow Lite Micro: Embedded machine learning on TinyML systems. MLSys 2021."],
    script='''
classes = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "silence", "unknown"]
hard = {"no": 0.86, "go": 0.85, "off": 0.87, "up": 0.88}
correct = total = 0
for name in classes:
    n = 340
    p = hard.get(name, 0.93)
    ok = sum(rng.random() < p for _ in range(n))
    correct, total = correct + ok, total + n
    print(f"class {name:<8} {ok / n:.3f}")
accuracy = correct / total
# flash: int8 weights of the DS-CNN plus the TFLM kernels linked into the firmware
params = 10 * 4 * 64 + 4 * (3 * 3 * 64 + 64 * 64) + 64 * 12
kernels_kb = {"AllOpsResolver (linked by build.sh)": 173.3}
flash_kb = round(params / 1024 + 1.8 + sum(kernels_kb.values()), 1)
print(f"accuracy {accuracy:.4f} on {total} test windows")
print(f"flash {flash_kb} KB ({params} int8 weights, kernels: {kernels_kb})")
metrics = {"accuracy": round(accuracy, 4), "flash_kb": flash_kb}
''',
    claims=[{"id": "C1", "text": "The int8 DS-CNN reaches 91% test accuracy on Speech Commands v2", "page": 1,
             "metric": "accuracy", "value": 0.91, "direction": "at_least", "tolerance": "1%"},
            {"id": "C2", "text": "The deployed model fits in 180 KB of flash", "page": 1, "metric": "flash_kb",
             "value": 180, "direction": "at_most", "tolerance": "2%"}],
    reviews=[
        _r("The paper deploys an int8 depthwise-separable CNN for 12-class keyword spotting on the Nano 33 BLE "
           "Sense with TFLite Micro and reports 91% accuracy, 96 ms latency and 180 KB of flash.",
           "The latency breakdown in Figure 1 is the most useful part: it shows that the MFCC front end costs a "
           "third of the inference, which is rarely reported.",
           "The flash claim does not hold for the artifact: the rig measured 196.6 KB because build.sh links the "
           "AllOpsResolver. Either the paper's number used a different build or the claim is wrong.",
           "evaluate.py runs out of the box and the accuracy check passes (0.909 on the rig, within the 1% "
           "tolerance), but C2 fails: 196.6 KB against the claimed 180 KB.",
           "Which resolver did you use for the 180 KB figure, and how much flash does MicroMutableOpResolver "
           "with only the six kernels the model needs take?"),
        _r("A well-scoped TinyML project: train a DS-CNN on Speech Commands, quantise it with full-integer PTQ "
           "and measure accuracy, flash, RAM and latency on an nRF52840.",
           "Clear method section with every front-end parameter (49 frames of 10 MFCCs, 40 ms window, 20 ms "
           "stride), so the pipeline can be rebuilt from the paper alone.",
           "Accuracy is reported on the Speech Commands test split only; the board's own microphone is much "
           "noisier, so the 91% may overstate what a user of the device experiences.",
           "The README is short but enough; I would add the firmware build to the artifact so the on-device "
           "numbers can be checked, not only the host-side replay.",
           "Did you try recording a few hundred windows through the board's microphone to estimate the "
           "accuracy drop on real input?"),
        _r("The authors quantise a keyword-spotting DS-CNN to int8 and run it on a Cortex-M4F microcontroller, "
           "comparing it with the float model in Table 1.",
           "The per-class error analysis ('no'/'go', 'off'/'up') explains where quantisation hurts instead of "
           "only reporting the average.",
           "Table 1 has no variance over training seeds; a 1.2 point gap between float and int8 could be within "
           "seed noise for a model this small.",
           "Code is readable and deterministic (fixed seed); the metrics file matches what the log prints.",
           "How many training seeds would it take to tell the 1.2 point quantisation loss from noise?"),
    ],
    response="Thank you for the careful reviews. On flash (Reviewer A): the 180 KB figure is for the firmware "
             "built with MicroMutableOpResolver and the six kernels the model uses; the build.sh in the artifact "
             "still linked the AllOpsResolver from an early version, which is the 196 KB the rig measured. We "
             "fixed build.sh and added the resolver to the paper. On the microphone (Reviewer B): 300 windows "
             "recorded on the board give 86% accuracy; we report it in a new limitations paragraph. On seeds "
             "(Reviewer C): over five seeds the int8 model loses 1.1 ± 0.3 points.",
    reviewer_post="The rig's run reproduces the accuracy but not the flash size (196.6 KB). Does anyone think "
                  "C2 should count against the reproducibility score, given the authors' explanation?",
    author_post="We pushed the build.sh fix (MicroMutableOpResolver with six kernels); the firmware is 179 KB.",
)


GESTURE = DemoPaper(
    title="IMU gesture recognition on a Cortex-M4 with 20 KB of RAM",
    abstract="We classify five wrist gestures (circle, flick, punch, wave, idle) from the 119 Hz accelerometer and "
             "gyroscope of the Nano 33 BLE Sense with a 1D CNN. Int8 quantisation keeps 94.5% accuracy on "
             "held-out participants while the RAM use drops to 18 KB and the latency to 11 ms per window.",
    keywords=["TinyML", "IMU"],
    sections=[
        ("Introduction", [
            "Gesture input on a wearable has to run next to the radio stack in a few tens of kilobytes of RAM. "
            "We study how small a 1D CNN over raw IMU windows can be before accuracy falls, and whether int8 "
            "quantisation changes that trade-off.",
            "We collected 2400 gestures from 12 participants wearing the board on the wrist and evaluate with a "
            "leave-participants-out split, so the accuracy is that of a new user."]),
        ("Method", [
            "A window is 1.2 s of six IMU channels at 119 Hz (143 samples), normalised per channel. The network "
            "has three 1D convolutions with 16, 24 and 32 filters, global average pooling and a dense layer over "
            "the five classes: 9.8k parameters.",
            "We quantise with full-integer PTQ and place the activations in a static arena planned by TFLM's "
            "greedy memory planner; RAM is the arena plus the IMU ring buffer."]),
        ("Experiments", [
            "Table 1 lists accuracy, RAM and latency for three network widths. The middle width is the knee: "
            "halving it costs 6 points, doubling it gains 0.4 points for twice the RAM. Figure 1 shows the "
            "per-gesture recall of the int8 model.",
            "Most confusions are between flick and punch, the two gestures with one dominant acceleration axis."]),
        ("Limitations", [
            "Twelve participants are few, and all wore the board on the right wrist; left-handed use and "
            "sensor drift over a day are untested."]),
        ("Conclusion", [
            "A 9.8k-parameter int8 1D CNN recognises five gestures at 94.5% for unseen users within 18 KB of "
            "RAM and 11 ms, leaving most of the Cortex-M4 for the application."]),
    ],
    figure_caption="Per-gesture recall of the int8 model on held-out participants.",
    figure_series=[("circle", 0.97), ("flick", 0.91), ("punch", 0.92), ("wave", 0.96), ("idle", 0.99)],
    figure_unit="recall",
    table_caption="Width of the 1D CNN versus accuracy (held-out participants), RAM and latency (int8).",
    table=[["filters", "params", "accuracy", "RAM (KB)", "latency (ms)"], ["8-12-16", "2.7k", "88.6%", "11", "5"],
           ["16-24-32", "9.8k", "94.5%", "18", "11"], ["32-48-64", "37k", "94.9%", "35", "29"]],
    references=["D. Situnayake, P. Warden. TinyML. O'Reilly, 2019.",
                "C. Banbury et al. MLPerf Tiny benchmark. NeurIPS Datasets and Benchmarks 2021."],
    script='''
gestures = {"circle": 0.97, "flick": 0.915, "punch": 0.92, "wave": 0.958, "idle": 0.99}
correct = total = 0
for name, p in gestures.items():
    ok = sum(rng.random() < p for _ in range(96))
    correct, total = correct + ok, total + 96
    print(f"recall {name:<7} {ok / 96:.3f}")
arena_kb = 16 * 143 * 1 / 1024 + 24 * 72 / 1024 + 32 * 36 / 1024 + 11.3
ring_kb = 6 * 143 * 2 / 1024
ram_kb = round(arena_kb + ring_kb, 1)
print(f"accuracy {correct / total:.4f}; RAM {ram_kb} KB (arena {arena_kb:.1f} + ring buffer {ring_kb:.1f})")
metrics = {"accuracy": round(correct / total, 4), "ram_kb": ram_kb}
''',
    claims=[{"id": "C1", "text": "The int8 1D CNN keeps 94.5% accuracy on held-out participants", "page": 1,
             "metric": "accuracy", "value": 0.945, "direction": "at_least", "tolerance": "2%"},
            {"id": "C2", "text": "RAM use stays under 20 KB", "page": 1, "metric": "ram_kb", "value": 20,
             "direction": "at_most", "tolerance": "0%"}],
    reviews=[
        _r("The authors collect 2400 IMU gestures from 12 participants and train a 9.8k-parameter 1D CNN that "
           "runs in 18 KB of RAM on the Nano 33 BLE Sense.",
           "The leave-participants-out split is the right evaluation for a wearable and many course projects "
           "get it wrong; the width sweep in Table 1 makes the design choice easy to follow.",
           "The data set is not released, so the accuracy cannot be checked independently; the artifact only "
           "replays the held-out predictions.",
           "The run passed both claims on the rig (accuracy and the 20 KB RAM bound); evaluate.py is clear.",
           "Can you release the 2400 recordings, or at least the held-out participants' windows?"),
        _r("A compact study of 1D CNN width for wrist-gesture recognition under a 20 KB RAM budget, with int8 "
           "quantisation and measured latency.",
           "RAM is accounted for carefully: arena plus the IMU ring buffer, with the planner named.",
           "Flick and punch are confused most, but the paper does not try the obvious fix of adding the "
           "gyroscope magnitude as a channel or a longer window.",
           "Readable code; the RAM computation in evaluate.py mirrors the paper's description.",
           "Would a 1.5 s window separate flick from punch better, and what would it cost in RAM?"),
        _r("Gesture classification from raw accelerometer and gyroscope windows with a small quantised CNN "
           "on a Cortex-M4, evaluated on unseen users.",
           "Honest limitations section (right wrist only, twelve people).",
           "The related work is thin: no comparison with classic features plus a decision tree, which is what "
           "most commercial wearables ship and would be a strong baseline at this size.",
           "The artifact reproduces the numbers, but the README does not say how the windows were segmented.",
           "How does a decision tree on hand-crafted features compare at the same RAM?"),
    ],
    response="Thank you. We cannot release the raw recordings (Reviewer A): the consent form did not cover it, "
             "but we added the held-out windows after removing participant ids. A decision tree on 24 "
             "hand-crafted features (Reviewer C) reaches 89.1% in 6 KB, which we now report as a baseline; a "
             "1.5 s window (Reviewer B) gains 0.8 points on flick/punch for 4 KB more RAM.",
    reviewer_post="Both claims reproduced on the rig. I would raise my score if the decision-tree baseline is "
                  "added as promised.",
    author_post="The decision-tree baseline is now in Table 1 of the revised PDF.",
)

QAT = DemoPaper(
    title="Post-training quantisation versus QAT for MobileNetV2 on microcontrollers",
    abstract="For MobileNetV2-0.35 on Visual Wake Words, quantisation-aware training (QAT) recovers 2.9 points "
             "of the accuracy that post-training int8 quantisation (PTQ) loses, at identical latency on a "
             "Cortex-M7. We show that most of the loss comes from the depthwise layers and that per-channel "
             "PTQ closes half of the gap without retraining.",
    keywords=["TinyML", "quantisation"],
    sections=[
        ("Introduction", [
            "Int8 is the native precision of microcontroller inference, but a float model quantised after "
            "training can lose several points of accuracy. We measure that loss for MobileNetV2-0.35 on Visual "
            "Wake Words (person / no person) and compare three remedies: per-channel PTQ, QAT, and QAT with "
            "the depthwise layers kept per-tensor."]),
        ("Method", [
            "We train the float model for 50 epochs at 96x96 pixels. PTQ uses 1000 calibration images; QAT "
            "fine-tunes the float model for 10 epochs with fake-quantisation nodes. Latency is measured with "
            "TFLM and CMSIS-NN kernels on an STM32F746 at 216 MHz.",
            "To locate the loss we quantise one layer at a time and record the accuracy drop."]),
        ("Experiments", [
            "Table 1 gives accuracy and latency for each variant. PTQ per-tensor loses 4.1 points, per-channel "
            "PTQ 2.0 and QAT 1.2. Latency is the same for all int8 variants because the kernels are. Figure 1 "
            "shows the accuracy drop when a single layer is quantised: the depthwise layers dominate."]),
        ("Limitations", [
            "One architecture and one data set; larger width multipliers lose less to PTQ and the gap may "
            "close on its own."]),
        ("Conclusion", [
            "Per-channel PTQ is the first thing to try; QAT adds 0.8 points more for ten epochs of training "
            "and is worth it when the accuracy budget is tight."]),
    ],
    figure_caption="Accuracy drop (points) when only one block of MobileNetV2-0.35 is quantised (per-tensor).",
    figure_series=[("stem", 0.2), ("dw 1-4", 1.4), ("dw 5-8", 1.1), ("pw", 0.4), ("head", 0.3)],
    figure_unit="points",
    table_caption="MobileNetV2-0.35 on Visual Wake Words: accuracy and latency on a Cortex-M7.",
    table=[["variant", "accuracy", "latency (ms)"], ["float32", "85.6%", "1210"], ["PTQ per-tensor", "81.5%", "183"],
           ["PTQ per-channel", "83.6%", "183"], ["QAT", "84.4%", "183"]],
    references=["A. Chowdhery et al. Visual Wake Words dataset. 2019.",
                "B. Jacob et al. Quantization and training of neural networks for efficient integer-arithmetic-only "
                "inference. CVPR 2018.", "M. Sandler et al. MobileNetV2. CVPR 2018."],
    script='''
def evaluate(p_correct, n=2000):
    return sum(rng.random() < p_correct for _ in range(n)) / n

acc = {"float32": evaluate(0.856), "ptq_per_tensor": evaluate(0.815), "qat": evaluate(0.844)}
for k, v in acc.items():
    print(f"{k:<15} accuracy {v:.4f}")
gain = round(100 * (acc["qat"] - acc["ptq_per_tensor"]), 2)
print(f"QAT recovers {gain} points over per-tensor PTQ")
metrics = {"qat_gain_points": gain, "qat_accuracy": round(acc["qat"], 4)}
''',
    claims=[{"id": "C1", "text": "QAT recovers 2.9 points of accuracy over post-training quantisation", "page": 1,
             "metric": "qat_gain_points", "value": 2.9, "direction": "at_least", "tolerance": "20%"}],
    reviews=[
        _r("The paper compares per-tensor PTQ, per-channel PTQ and QAT for MobileNetV2-0.35 on Visual Wake "
           "Words and measures latency on an STM32F746.",
           "The layer-by-layer sensitivity study (Figure 1) is a good idea and pins the loss on the depthwise "
           "layers.",
           "The claimed 2.9 point gain compares QAT with per-tensor PTQ; against the stronger per-channel PTQ "
           "baseline the gain is only 0.8 points, which the abstract should say first.",
           "The run reproduces C1 on the rig; evaluate.py replays the held-out predictions rather than "
           "training, which is fine for a 10-epoch QAT run.",
           "What is the variance of the QAT result over fine-tuning seeds?"),
        _r("A clean comparison of quantisation strategies for a small vision model on a microcontroller.",
           "Latency is identical across int8 variants and the authors explain why (same CMSIS-NN kernels), "
           "which avoids a common confusion.",
           "Only one width multiplier: the claim that depthwise layers dominate should be checked at 0.5 and "
           "1.0 as well.",
           "Readable and short; the README explains which numbers come from the rig and which from the board.",
           "Does the depthwise finding hold for MobileNetV2-1.0?"),
        _r("The authors ask how much of the PTQ accuracy loss QAT recovers for MobileNetV2 on Visual Wake Words.",
           "Table 1 is complete: float, two PTQ variants and QAT with accuracy and latency side by side.",
           "The related work misses mixed-precision approaches (e.g. keeping depthwise layers at 16 bit), the "
           "natural next step after Figure 1.",
           "Everything ran from the README; results match the table within 0.3 points.",
           "Did you try 16-bit activations for the depthwise layers only?"),
    ],
    response="We agree with Reviewer A: the abstract now compares QAT with per-channel PTQ first (0.8 points) "
             "and gives the 2.9 points against per-tensor PTQ second. Over three seeds QAT gives 84.4 ± 0.2%. At "
             "width 1.0 the depthwise layers still account for 60% of the PTQ loss.",
    reviewer_post="C1 reproduced on the rig. I think the framing issue is fixed by the response.",
    author_post="Revised abstract uploaded; per-channel PTQ is now the main baseline.",
)

ANOMALY = DemoPaper(
    title="Autoencoder anomaly detection for machine sounds on TinyML hardware",
    abstract="We reproduce the MLPerf Tiny anomaly-detection reference: a dense autoencoder over log-mel frames "
             "of fan and pump sounds from ToyADMOS/MIMII. The int8 model reaches an AUC of 0.86 and runs in 3 ms "
             "on an STM32L4; magnitude pruning to 50% sparsity keeps the AUC within 0.01.",
    keywords=["TinyML", "anomaly detection"],
    sections=[
        ("Introduction", [
            "Predictive maintenance listens for a machine that starts to sound wrong. An autoencoder trained "
            "on normal sounds only flags frames it reconstructs badly. We reproduce the MLPerf Tiny reference "
            "model and ask how far it can be pruned for a smaller microcontroller."]),
        ("Method", [
            "Each clip becomes 5 consecutive frames of 128 log-mel bins (640 inputs). The autoencoder has four "
            "dense layers of 128 units, a bottleneck of 8 and a symmetric decoder. The anomaly score of a clip "
            "is its mean squared reconstruction error; we report the area under the ROC curve (AUC).",
            "We prune by magnitude in three steps to 50% sparsity with fine-tuning in between."]),
        ("Experiments", [
            "Table 1 gives AUC per machine type for the float, int8 and pruned models; Figure 1 shows the AUC "
            "against sparsity. The reference reports 0.85; we measure 0.86 for int8."]),
        ("Limitations", [
            "Dense weights are stored as such: 50% sparsity does not shrink flash without a sparse format, "
            "which TFLM does not provide."]),
        ("Conclusion", [
            "The MLPerf Tiny reference reproduces, and half of its weights can go without hurting the AUC."]),
    ],
    figure_caption="AUC of the int8 autoencoder against weight sparsity (fan and pump, averaged).",
    figure_series=[("0%", 0.861), ("25%", 0.86), ("50%", 0.853), ("75%", 0.81)], figure_unit="AUC",
    table_caption="AUC per machine type (ToyADMOS/MIMII test split).",
    table=[["model", "fan", "pump", "mean"], ["float32", "0.87", "0.86", "0.865"], ["int8", "0.87", "0.85", "0.861"],
           ["int8, 50% sparse", "0.86", "0.85", "0.853"]],
    references=["C. Banbury et al. MLPerf Tiny benchmark. NeurIPS Datasets and Benchmarks 2021.",
                "H. Purohit et al. MIMII dataset. DCASE 2019.", "Y. Koizumi et al. ToyADMOS. WASPAA 2019."],
    script='''
normal = [rng.gauss(1.0, 0.35) for _ in range(600)]
anomal = [rng.gauss(1.7, 0.55) for _ in range(200)]
# AUC = P(score of an anomalous clip > score of a normal clip), by ranks
ranked = sorted([(s, 0) for s in normal] + [(s, 1) for s in anomal])
rank_sum = sum(i + 1 for i, (_, label) in enumerate(ranked) if label == 1)
auc = (rank_sum - len(anomal) * (len(anomal) + 1) / 2) / (len(anomal) * len(normal))
print(f"{len(normal)} normal and {len(anomal)} anomalous clips; AUC {auc:.4f}")
metrics = {"auc": round(auc, 4)}
''',
    claims=[{"id": "C1", "text": "The int8 autoencoder reaches an AUC of 0.86", "page": 1, "metric": "auc",
             "value": 0.86, "direction": "at_least", "tolerance": "3%"}],
    reviews=[
        _r("A reproduction of the MLPerf Tiny anomaly-detection autoencoder on fan and pump sounds, with int8 "
           "deployment and a pruning study.",
           "Reproductions are valuable and this one is careful: the authors match the reference AUC and say "
           "where their pipeline differs.",
           "The pruning result is of limited use since, as the limitations admit, dense storage means no flash "
           "saving; a structured pruning of whole units would shrink the model for real.",
           "The rig reproduced the AUC claim; the rank-based AUC in evaluate.py is correct.",
           "How much flash would removing whole units (structured pruning) save at the same AUC?"),
        _r("The authors train an autoencoder on normal machine sounds and detect anomalies from the "
           "reconstruction error, running it in 3 ms on an STM32L4.",
           "The explanation of the anomaly score and the AUC is clear for readers new to the topic.",
           "Only two machine types; the MIMII set also has valves and sliders, on which the reference is known "
           "to do worse.",
           "Code runs; I would like the log-mel extraction in the artifact too.",
           "What AUC do you get on valves and sliders?"),
        _r("Anomalous-sound detection with a small dense autoencoder on a microcontroller, reproducing a "
           "benchmark reference.",
           "Figure 1 shows a clear knee between 50% and 75% sparsity.",
           "No comparison with a simpler baseline such as a Gaussian model of the log-mel frames, which would "
           "show what the autoencoder adds.",
           "All good; the README is short and accurate.",
           "How does a per-bin Gaussian baseline score?"),
    ],
    response="Thank you. Structured pruning of 50% of the units (Reviewer A) saves 41% of flash at an AUC of 0.84 "
             "(new row in Table 1). On valves and sliders (Reviewer B) the int8 model reaches 0.71 and 0.80. A "
             "per-bin Gaussian baseline (Reviewer C) scores 0.74, so the autoencoder adds 0.12 AUC.",
    reviewer_post="The structured-pruning row answers my main concern.",
    author_post="We added the log-mel extraction script to the artifact.",
)

FEDUP = DemoPaper(
    title="Client drift in federated learning on non-IID CIFAR-10",
    abstract="We measure how FedAvg degrades on CIFAR-10 as the Dirichlet label skew across 100 clients grows, "
             "and compare FedProx and SCAFFOLD. At alpha 0.1, SCAFFOLD closes 70% of the gap between FedAvg and "
             "IID training within 200 rounds; FedProx closes 25%.",
    keywords=["federated learning"],
    sections=[
        ("Introduction", [
            "When clients hold different label distributions, their local updates pull the model in different "
            "directions (client drift) and FedAvg converges slowly or to a worse model. We quantify the effect "
            "on CIFAR-10 and test two published corrections under the same budget."]),
        ("Method", [
            "We split CIFAR-10 across 100 clients with a Dirichlet(alpha) prior over labels, alpha in {100, 1, "
            "0.5, 0.1}, and sample 10 clients per round. Each trains a small ResNet-8 for 5 local epochs. "
            "FedProx adds a proximal term (mu 0.01); SCAFFOLD keeps control variates per client.",
            "We report test accuracy after 200 rounds, averaged over three seeds, and the fraction of the "
            "FedAvg-to-IID gap each method closes."]),
        ("Experiments", [
            "Table 1 gives the accuracy per alpha; Figure 1 shows the gap closed at alpha 0.1. FedAvg loses 19 "
            "points from IID to alpha 0.1; SCAFFOLD recovers 13 of them."]),
        ("Limitations", [
            "SCAFFOLD doubles the upload per round (model plus control variate); under a fixed communication "
            "budget its advantage shrinks, which we do not measure."]),
        ("Conclusion", [
            "Under strong label skew, SCAFFOLD is the correction to use if clients can afford the extra state."]),
    ],
    figure_caption="Fraction of the FedAvg-to-IID accuracy gap closed at alpha 0.1 (200 rounds).",
    figure_series=[("FedAvg", 0.0), ("FedProx", 0.25), ("SCAFFOLD", 0.70)], figure_unit="gap closed",
    table_caption="Test accuracy after 200 rounds (mean of 3 seeds) on CIFAR-10 with 100 clients.",
    table=[["method", "IID", "alpha 1", "alpha 0.5", "alpha 0.1"], ["FedAvg", "82.1", "78.4", "74.0", "63.1"],
           ["FedProx", "82.0", "78.9", "75.2", "67.9"], ["SCAFFOLD", "81.8", "80.6", "78.9", "76.4"]],
    references=["B. McMahan et al. Communication-efficient learning of deep networks from decentralized data. "
                "AISTATS 2017.", "T. Li et al. Federated optimization in heterogeneous networks. MLSys 2020.",
                "S. P. Karimireddy et al. SCAFFOLD. ICML 2020."],
    script='''
iid, fedavg = 0.821, 0.631
final = {}
for method, target in (("fedprox", 0.679), ("scaffold", 0.764)):
    acc = 0.10
    for rnd in range(1, 201):
        acc += (target - acc) * 0.035 + rng.gauss(0, 0.0008)
        if rnd % 50 == 0:
            print(f"{method:<8} round {rnd:3d} accuracy {acc:.4f}")
    final[method] = acc
gap = {m: (a - fedavg) / (iid - fedavg) for m, a in final.items()}
print("gap closed", {m: round(g, 3) for m, g in gap.items()})
metrics = {"scaffold_gap_closed": round(gap["scaffold"], 3), "fedprox_gap_closed": round(gap["fedprox"], 3)}
''',
    claims=[{"id": "C1", "text": "SCAFFOLD closes 70% of the gap to IID training at alpha 0.1", "page": 1,
             "metric": "scaffold_gap_closed", "value": 0.70, "direction": "at_least", "tolerance": "5%"}],
    reviews=[
        _r("A systematic measurement of FedAvg under Dirichlet label skew on CIFAR-10 with 100 clients, and of "
           "how much FedProx and SCAFFOLD help.",
           "Three seeds per configuration and the gap-closed metric make the comparison fair and readable.",
           "The limitations admit that SCAFFOLD uploads twice as much; a plot of accuracy against bytes "
           "uploaded would change the conclusion or confirm it.",
           "The rig's run reproduced C1 (0.68 of the gap closed, within the 5% tolerance); the script replays the training curves.",
           "What does the comparison look like at equal communication?"),
        _r("The paper studies client drift, a central problem of federated learning, with a clean experimental "
           "grid over the label skew.",
           "Table 1 is the kind of result a practitioner can use directly.",
           "FedProx's mu is fixed at 0.01; its performance is sensitive to mu and a small sweep is needed before "
           "concluding that it closes only 25% of the gap.",
           "Code and README are fine; the script ran first time on the rig.",
           "Did you tune mu for FedProx at alpha 0.1?"),
        _r("FedAvg, FedProx and SCAFFOLD on non-IID CIFAR-10: the paper measures accuracy after 200 rounds for "
           "four levels of skew.",
           "Clear description of the Dirichlet split and the client sampling.",
           "ResNet-8 is small; client drift is known to grow with model size, so the ranking might differ for "
           "a ResNet-18.",
           "Runs from the README; the log shows the per-50-round accuracies of the paper.",
           "Would the ranking change with a larger model?"),
    ],
    response="We swept mu in {0.001, 0.01, 0.1, 1} for FedProx (Reviewer B): the best, mu 0.1, closes 31% of the "
             "gap. At equal bytes uploaded (Reviewer A) SCAFFOLD still closes 52% of the gap at alpha 0.1. A "
             "ResNet-18 run is beyond our GPU budget; we say so in the limitations.",
    reviewer_post="The equal-communication result is convincing; I suggest accepting the response.",
    author_post="The mu sweep is in the appendix of the revised PDF.",
)

FLOWER = DemoPaper(
    title="Federated keyword spotting across simulated phones with Flower",
    abstract="We train a keyword-spotting model federatedly with Flower across 100 simulated phones, each "
             "holding the recordings of one Speech Commands speaker. With 10% of the clients per round and 2 "
             "local epochs, the federated model reaches 87% accuracy, 4 points below centralised training, "
             "after 300 rounds and 1.9 GB of total upload.",
    keywords=["federated learning", "keyword spotting"],
    sections=[
        ("Introduction", [
            "Voice data is personal: a phone should learn the keywords its user says without uploading the "
            "audio. Federated learning keeps the recordings on the phone and exchanges model updates. We ask "
            "what accuracy a keyword spotter reaches this way and what it costs in communication."]),
        ("Method", [
            "Each simulated client holds the recordings of one speaker (natural non-IID split), 20 to 120 "
            "utterances. The model is the DS-CNN of the Hello Edge paper (23k parameters, 12 classes). We use "
            "Flower's simulation engine with FedAvg and vary the client sampling rate (5%, 10%, 20%) and the "
            "number of local epochs (1, 2, 5)."]),
        ("Experiments", [
            "Table 1 shows accuracy after 300 rounds per configuration; Figure 1 the accuracy per sampling rate. "
            "Two local epochs are best; five overfit the few utterances of a speaker."]),
        ("Limitations", [
            "Clients are simulated on one machine: stragglers, dropped connections and on-device training time "
            "are not modelled."]),
        ("Conclusion", [
            "Federated keyword spotting is within 4 points of centralised training at a communication cost a "
            "phone can carry over a few nights of Wi-Fi."]),
    ],
    figure_caption="Accuracy after 300 rounds against the fraction of clients sampled per round (2 local epochs).",
    figure_series=[("5%", 0.842), ("10%", 0.871), ("20%", 0.878)], figure_unit="accuracy",
    table_caption="Accuracy after 300 rounds and total upload for sampling rate and local epochs.",
    table=[["clients/round", "local epochs", "accuracy", "upload (GB)"], ["10%", "1", "85.2%", "1.9"],
           ["10%", "2", "87.1%", "1.9"], ["10%", "5", "85.9%", "1.9"], ["20%", "2", "87.8%", "3.8"]],
    references=["D. J. Beutel et al. Flower: A friendly federated learning research framework. 2020.",
                "P. Warden. Speech Commands. 2018.",
                "Y. Zhang et al. Hello Edge: Keyword spotting on microcontrollers. 2017."],
    script='''
params = 23_000
rounds, clients_per_round = 300, 10
acc = 0.08
for rnd in range(1, rounds + 1):
    acc += (0.872 - acc) * 0.02 + rng.gauss(0, 0.0005)
    if rnd % 100 == 0:
        print(f"round {rnd} accuracy {acc:.4f}")
upload_gb = round(rounds * clients_per_round * params * 4 * 7 / 1e9, 2)  # fp32 update, 7 sync points
print(f"upload {upload_gb} GB")
metrics = {"accuracy": round(acc, 4), "upload_gb": upload_gb}
''',
    claims=[{"id": "C1", "text": "The federated model reaches 87% accuracy after 300 rounds", "page": 1,
             "metric": "accuracy", "value": 0.87, "direction": "at_least", "tolerance": "1%"},
            {"id": "C2", "text": "Total upload stays under 2 GB", "page": 1, "metric": "upload_gb", "value": 2.0,
             "direction": "at_most", "tolerance": "0%"}],
    reviews=[
        _r("The paper trains a DS-CNN keyword spotter with Flower across 100 simulated phones split by speaker "
           "and studies the sampling rate and the local epochs.",
           "The split by speaker is a realistic non-IID setting, better than an artificial Dirichlet split.",
           "The communication numbers assume fp32 updates; 8-bit update quantisation is standard and would cut "
           "the upload by 4x, which matters for the phone argument in the conclusion.",
           "Both claims reproduced on the rig; the upload computation in evaluate.py matches Table 1.",
           "How does accuracy change with 8-bit quantised updates?"),
        _r("Federated training of a keyword-spotting model with Flower, measuring accuracy and upload.",
           "Table 1 answers the practical questions (how many clients, how many local epochs) directly.",
           "No privacy analysis: model updates can leak utterances; at least mention secure aggregation or "
           "differential privacy.",
           "Clean code; the README says which Flower version the simulation used.",
           "Would DP-FedAvg at a reasonable epsilon keep the accuracy above 80%?"),
        _r("A federated keyword-spotting study with a natural per-speaker split and 300 rounds of FedAvg.",
           "Good negative result: five local epochs overfit, explained by the few utterances per speaker.",
           "Figure 1 has only three points; a finer sweep of the sampling rate would show where the returns "
           "diminish.",
           "The run finished quickly and the log shows the accuracy per 100 rounds as in the paper.",
           "Is there a sampling rate between 10% and 20% where the gain stops?"),
    ],
    response="Thank you. With 8-bit updates (Reviewer A) the accuracy is 86.8% at 0.5 GB of upload. We added a "
             "paragraph on secure aggregation and a DP-FedAvg run (Reviewer B): epsilon 8 gives 82.4%.",
    reviewer_post="Good response; the 8-bit update result strengthens the paper.",
    author_post="The DP-FedAvg numbers are in the new Section 4.2.",
)

LAST_TERM_PAPERS = [KWS, GESTURE, QAT, ANOMALY, FEDUP, FLOWER]


def draft_paper(title: str, abstract: str, *, authors: list[str] | None = None) -> DemoPaper:
    """An early draft of this term's paper: its title, abstract and the plan of its sections (no results yet)."""
    first, _, rest = abstract.partition(". ")
    return DemoPaper(
        title=title, abstract=abstract,
        sections=[("Introduction", [f"{first}. {rest}", "This draft describes the set-up; the measurements "
                                    "are being run and will replace the placeholders of Section 3."]),
                  ("Method", ["We describe the implementation, the hardware it runs on and how each number is "
                              "measured (warm-up, repeats, the median and its spread), so that the artifact "
                              "reproduces every claim of the final version."]),
                  ("Experiments", ["To be completed before the submission deadline: the main comparison, an "
                                   "ablation and the limitations of the measurement."])],
        figure_caption="", figure_series=[], figure_unit="", table_caption="", table=[],
        references=["Course reading list, MLSys 2026."], script="", claims=[], reviews=[], response="",
        reviewer_post="", author_post="", authors=authors or DemoPaper.__dataclass_fields__["authors"]
        .default_factory())


# ---- the finished term's (MLSys 2024) reviews: (strengths, weaknesses, code review) per reviewer ----------

FINISHED_REVIEWS: list[list[tuple[str, str, str]]] = [
    [  # Differentially private federated averaging: the accuracy cost of epsilon
        ("The accuracy-against-epsilon curve from 1 to 16 is exactly the figure a practitioner needs, and the "
         "knee at epsilon 4 is clearly visible.",
         "Per-client clipping norms are fixed; adaptive clipping is known to move the knee and should be tried.",
         "The DP accountant is called correctly and its epsilon matches the paper; the run took 40 minutes."),
        ("Careful privacy accounting: the paper states delta, the sampling rate and the number of rounds.",
         "FEMNIST only; a second data set with more clients would show whether the 3.1 point loss generalises.",
         "README is complete, but the seed is not fixed, so the numbers vary by about half a point."),
        ("Well written related-work section that separates central and local differential privacy.",
         "The baseline without DP is trained for fewer rounds than the DP runs, which flatters the DP result.",
         "Code is clean; the clipping function would benefit from a unit test."),
    ],
    [  # Fairness across clients in federated learning with q-FedAvg
        ("Reproducing q-FedAvg's trends on Shakespeare is a useful check of a much-cited result.",
         "The 41% variance reduction is given without a confidence interval over seeds.",
         "The artifact ran on the rig; evaluation of per-client accuracy is vectorised and fast."),
        ("The paper explains the q parameter intuitively before the formulas, which helps readers.",
         "Only q in {0, 1, 5}; the trade-off curve needs more points to pick q in practice.",
         "The rig's run failed when the GPU quota ran out, not because of the code; run by hand, it matched."),
        ("Honest reporting of the 1.2 point cost in mean accuracy alongside the fairness gain.",
         "No comparison with AFL (agnostic federated learning), the other standard fairness baseline.",
         "Runs from the README; hard-coded client count in train.py line 12."),
    ],
    [  # When does torch.compile pay off? Compilation cost versus speed-up
        ("Thirty TorchBench models on CPU and GPU give the rule of thumb real support.",
         "Compilation time depends heavily on the cache; the paper does not say whether it was warm or cold.",
         "The benchmark harness is neat; results are written to CSV per model."),
        ("The amortisation rule (compile pays off after N steps) is simple and useful.",
         "Dynamic shapes are excluded, yet they are the main reason compilation is repeated in practice.",
         "The artifact needs a GPU; the CPU half reproduced on the rig within 5%."),
        ("Clear figures: speed-up against compile time on log axes, one point per model.",
         "Mode 'max-autotune' is missing, which changes both axes substantially.",
         "README lists the exact PyTorch version, which matters for compile results."),
    ],
    [  # Serving LLMs with continuous batching on one GPU
        ("A minimal continuous-batching server with a paged KV cache is a substantial engineering result.",
         "Tail latency is reported at p99 only; p50 and p90 would show where the gain comes from.",
         "The server code is readable; the load generator's seed is fixed, so runs are comparable."),
        ("The request-rate sweep from 1 to 50 per second shows where static batching collapses.",
         "Prompt lengths are uniform; real traces have long-tailed lengths that stress the page allocator.",
         "The CPU smoke test passed on the rig; the GPU benchmark needs an A100, which I could not check."),
        ("Good comparison with a static-batching baseline under identical hardware.",
         "No comparison with an existing system such as vLLM, even a qualitative one.",
         "Block size is a constant in the code but a parameter in the paper; please align them."),
    ],
    [  # KV-cache quantisation to 4 bits for long-context inference
        ("Per-channel scales for the KV cache are motivated by a clear analysis of outlier channels.",
         "Perplexity on WikiText-2 alone does not show long-context quality; a retrieval task would.",
         "Quantisation kernels are tested against a float reference; the tests pass on the rig."),
        ("Doubling the usable context on a 24 GB GPU is a concrete, checkable claim.",
         "The overhead of dequantisation on the attention latency is not measured.",
         "The artifact needs the model weights, which the README explains how to download."),
        ("Ablation of group size for the scales is thorough.",
         "Keys and values are quantised identically although the paper's own analysis suggests keys are harder.",
         "Good code structure; the evaluation script prints the same table as the paper."),
    ],
    [  # Measuring energy per inference: GPU versus microcontroller
        ("Measuring energy with external power monitors rather than software counters is the right method.",
         "The A100 measurement includes idle power of the whole board; subtracting it changes the ratio.",
         "The Arduino sketch and the analysis notebook are both in the artifact; the notebook ran on the rig."),
        ("Spanning five orders of magnitude on one plot makes the point memorable.",
         "Batch size 1 on the A100 is the worst case for the GPU; a batched number is needed for fairness.",
         "The power-trace parser is well commented; sampling rate is documented."),
        ("The paper explains the measurement set-up with a photo and a wiring diagram.",
         "Accuracy differs between the three models, so energy per correct inference would be fairer.",
         "Raw traces are included, which makes the analysis fully reproducible."),
    ],
]


def finished_summary(title: str, abstract: str, k: int) -> str:
    """Three ways reviewers open a summary, so no two reviews of a paper start alike."""
    first = abstract.split(". ")[0].rstrip(".")
    if k == 0:
        return f"The paper \"{title}\" reports: {first}. The main numbers are in Table 1 and Figure 2."
    if k == 1:
        return f"Summary: {abstract[:220].rsplit(' ', 1)[0]}… I focused on whether the artifact backs this up."
    return f"This project asks a practical question ({title.lower()}) and answers it with measurements: {first}."
