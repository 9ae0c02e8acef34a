"""Tagging new text from a checkpoint alone: the Tagger API, `postag tag`, and `evaluate.py compare_to=`."""

import csv
import json
import subprocess
import sys

import pytest
import torch

from conftest import FIXTURES, SMALL_MODEL, postag_cli, run
from postag.data import collate
from postag.analysis.report import compare_rows, format_comparison
from postag.app.cli import build_parser
from postag.app.tagger import Tagger
from postag.data.buckets import BATCH_SIZE, MAX_TOKENS
from postag.app.tokenizer import tokenize

SENTENCES = [["the", "dog", "runs", "."], [], ["a", "cat", "sat"], ["the", "cat"]]


@pytest.fixture(scope="module")
def checkpoint(trained_run):
    return trained_run / "checkpoints" / "last.ckpt"


def test_tagger_gives_the_models_argmax_in_input_order(checkpoint):
    tagger = Tagger.load(checkpoint, device="cpu", batch_size=2)  # batches of 2: order must be restored
    tags = tagger.tag_sentences(SENTENCES)
    assert [len(t) for t in tags] == [len(s) for s in SENTENCES]
    assert tags[1] == []  # an empty sentence gets no tags, and no crash
    for words, sentence_tags in zip(SENTENCES, tags):
        if not words:
            continue
        with torch.no_grad():
            logits = tagger.model(collate([tagger.vocab.encode(words)]))  # one sentence, no padding
        assert sentence_tags == [tagger.vocab.tags.itos[i] for i in logits[0].argmax(-1).tolist()]
        assert tagger.tag(words) == sentence_tags
    assert set(sum(tags, [])) <= set(tagger.vocab.tags.itos)
    # a token budget that puts sentences one or two to a batch changes batches, not tags
    assert Tagger.load(checkpoint, device="cpu", max_tokens=5).tag_sentences(SENTENCES) == tags


def test_bf16_tagging_gives_valid_tags_in_input_order(checkpoint):
    tags = Tagger.load(checkpoint, device="cpu", bf16=True, batch_size=2).tag_sentences(SENTENCES)
    assert [len(t) for t in tags] == [len(s) for s in SENTENCES]
    assert set(sum(tags, [])) <= set(Tagger.load(checkpoint, device="cpu").vocab.tags.itos)


def test_compiled_tagger_gives_the_same_tags(checkpoint):
    eager = Tagger.load(checkpoint, device="cpu", batch_size=2).tag_sentences(SENTENCES)
    compiled = Tagger.load(checkpoint, device="cpu", batch_size=2, compile=True)
    assert compiled.tag_sentences(SENTENCES) == eager


def test_tagger_tags_sentences_longer_than_its_positions_and_rejects_plain_strings(checkpoint):
    tagger = Tagger.load(checkpoint, device="cpu")
    assert tagger.model.encoder.max_len == 256  # model=pos has 256 positions
    long = (["the", "cat", "sat", "on", "the", "mat", "."] * 45)[:300]
    tags = tagger.tag_sentences([["a"], long])
    assert len(tags[1]) == 300 and set(tags[1]) <= set(tagger.vocab.tags.itos)
    # The first quarter window only ever sees the first window: its tags are those of the sentence cut there.
    assert tags[1][:64] == tagger.tag(long[:256])[:64]
    with pytest.raises(TypeError, match="lists of words"):
        tagger.tag_sentences(["The cat sat ."])


def test_every_sentence_is_tagged_as_on_its_own_beside_longer_ones_in_windows(checkpoint):
    tagger = Tagger.load(checkpoint, device="cpu")
    words = ["the", "cat", "sat", "on", "a", "mat", "by", "the", "dog", "."]
    # past the 256 positions (in windows planned for the batch's length), and within them
    sentences = [(words * 50)[:400], (words * 40)[:300], (words * 30)[:250]]
    assert tagger.tag_sentences(sentences) == [tagger.tag(words) for words in sentences]


def test_tag_command_help_states_the_taggers_batch_limits():
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    help_text = commands.choices["tag"].format_help()
    assert f"(default {BATCH_SIZE})" in help_text and f"(default {MAX_TOKENS};" in help_text


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("The U.S. didn't pay $1,000.50 (yes), John's car.",
         "The U.S. did n't pay $ 1,000.50 ( yes ) , John 's car ."),
        ('He said, "I can\'t go."', "He said , `` I ca n't go . ''"),
        ("“Stop,” she said.", "`` Stop , '' she said ."),
        ("'Hello,' she said to the students' teacher.", "` Hello , ' she said to the students ' teacher ."),
        ('("Yes")', "( `` Yes '' )"),
        ("I cannot believe we're gonna win... it's 10:30 -- really!",
         "I can not believe we 're gon na win ... it 's 10:30 -- really !"),
        ("Wait… I wanna go — now, lemme see; gotta run, gimme that.",
         "Wait ... I wan na go -- now , lem me see ; got ta run , gim me that ."),
        ("Cannot they'd've? It rained. We left.", "Can not they 'd 've ? It rained . We left ."),
        ("We can’t stop John’s car.", "We ca n't stop John 's car ."),
        ("[citation needed] {x} <y>", "[ citation needed ] { x } < y >"),
    ],
)
def test_tokenize_follows_the_penn_treebank(text, tokens):
    assert tokenize(text) == tokens.split(" ")


def test_tag_command_on_stdin_writes_word_tab_tag_with_blank_lines(checkpoint):
    result = postag_cli("tag", "--ckpt", checkpoint, stdin=b"the dog runs .\n\na cat sat\n")
    assert result.returncode == 0, result.stderr.decode()
    expected_tags = Tagger.load(checkpoint, device="cpu").tag_sentences(SENTENCES[:3])
    blocks = result.stdout.decode().split("\n\n")
    # three sentences, the second empty: "s1 lines\n\n" + "\n" + "s3 lines\n\n"
    assert result.stdout.decode() == "".join(
        "".join(f"{w}\t{t}\n" for w, t in zip(words, tags)) + "\n" for words, tags in zip(SENTENCES[:3], expected_tags)
    )
    assert blocks[0].splitlines()[0].startswith("the\t")


def test_tag_command_tags_a_line_longer_than_the_models_positions(checkpoint, tmp_path):
    long_line = tmp_path / "long.txt"
    long_line.write_text("short line\n" + "word " * 300 + "\n")
    result = postag_cli("tag", "--ckpt", checkpoint, "--format", "inline", long_line)
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    assert [len(line.split()) for line in lines] == [2, 300]


def test_tag_command_on_a_file_inline_and_tokenized(checkpoint, tmp_path):
    text = tmp_path / "input.txt"
    text.write_text("the dog runs.\nthe cat\n", encoding="utf-8")
    result = postag_cli("tag", "--ckpt", checkpoint, "--tokenize", "--format", "inline", text)
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().splitlines()
    expected = Tagger.load(checkpoint, device="cpu").tag_sentences([["the", "dog", "runs", "."], ["the", "cat"]])
    assert lines == [
        " ".join(f"{w}/{t}" for w, t in zip(["the", "dog", "runs", "."], expected[0])),
        " ".join(f"{w}/{t}" for w, t in zip(["the", "cat"], expected[1])),
    ]


def test_tag_command_errors_name_the_file_and_line(checkpoint, tmp_path):
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\u00e9 ok\n".encode("utf-8") + "na\u00efve\n".encode("latin-1"))
    result = postag_cli("tag", "--ckpt", checkpoint, "--format", "inline", latin1)
    assert result.returncode == 2 and f"{latin1}:2: not UTF-8 text (invalid continuation byte at byte 2 of the line)" in result.stderr.decode()
    # what came before the bad line is tagged and written
    tags = Tagger.load(checkpoint, device="cpu").tag(["caf\u00e9", "ok"])
    assert result.stdout.decode() == f"caf\u00e9/{tags[0]} ok/{tags[1]}\n"

    result = postag_cli("tag", "--ckpt", checkpoint, tmp_path / "missing.txt")
    assert result.returncode == 2 and "missing.txt: no such file" in result.stderr.decode()

    result = postag_cli("tag", "--ckpt", tmp_path / "nothing.ckpt", stdin=b"a\n")
    assert result.returncode == 2 and "no checkpoint file at" in result.stderr.decode()


def test_tag_command_streams_and_stops_quietly_when_its_reader_does(checkpoint):
    """`postag tag ... | head -1`: the first lines come out while input is still being read, and
    a reader that stops early ends the command without an error."""
    process = subprocess.Popen(
        [sys.executable, "-m", "postag.app.cli", "tag", "--ckpt", str(checkpoint), "--format", "inline"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    process.stdin.write(b"the dog runs .\n" * 2500)  # more than one chunk, and the input left open
    process.stdin.flush()
    first = process.stdout.readline()  # written before the end of the input was seen
    assert first.decode().startswith("the/")
    process.stdout.close()  # the reader goes away
    process.stdin.write(b"a cat sat\n" * 1600)  # the rest of the second chunk, and a little more
    process.stdin.close()
    assert process.wait(timeout=120) == 0
    assert process.stderr.read() == b""


def test_compare_rows_sort_by_gain_and_keep_absent_tags_last():
    ours = [
        {"tag": "NN", "support": 10, "accuracy": 0.9},
        {"tag": "VB", "support": 5, "accuracy": 0.8},
        {"tag": "MD", "support": 0, "accuracy": None},
    ]
    theirs = [
        {"tag": "NN", "support": 10, "accuracy": 0.95},
        {"tag": "VB", "support": 5, "accuracy": 0.4},
        {"tag": "MD", "support": 0, "accuracy": None},
    ]
    rows = compare_rows(ours, theirs)
    assert [r["tag"] for r in rows] == ["VB", "NN", "MD"]
    assert rows[0]["delta"] == pytest.approx(0.4) and rows[1]["delta"] == pytest.approx(-0.05)
    table = format_comparison(rows, ("a.ckpt", "b.ckpt"), (0.9, 0.8))
    assert "A - B +10.00 points" in table
    assert "| VB | 5 | 80.00 | 40.00 | +40.00 |" in table and "| MD | 0 | absent | absent | - |" in table


def test_evaluate_compares_two_checkpoints(trained_run, tmp_path):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    out = tmp_path / "compare"
    result = run(
        "evaluate.py",
        f"ckpt_path={metrics['best_checkpoint']}",
        f"compare_to={trained_run / 'checkpoints' / 'last.ckpt'}",
        f"data.test_file={FIXTURES / 'test.txt'}",
        f"hydra.run.dir={out}",
    )
    assert "A - B" in result.stdout and "overall accuracy: A" in result.stdout
    table = (out / "compare.md").read_text()
    assert f"A {100 * metrics['test/acc']:.2f}" in table  # A is the best checkpoint train.py tested
    csv_lines = (out / "compare.csv").read_text().splitlines()
    assert csv_lines[0] == "tag,support,a,b,delta" and len(csv_lines) > 3
    # the error analysis: A's confusions add up to its errors, and both comparison sections are there
    assert "error analysis:" in result.stdout
    rows = list(csv.DictReader(open(out / "errors.csv")))
    tokens = int(result.stdout.split("micro, ")[1].split(" tokens")[0])
    errors = sum(int(r["count"]) for r in rows if r["section"] == "Most frequent confusions")
    scored = json.loads((out / "metrics.json").read_text())["test/acc"]
    assert errors == round((1 - scored) * tokens) > 0  # fewer than 20 kinds of error here
    text = (out / "errors.md").read_text()
    assert "## A right, B wrong" in text and "## B right, A wrong" in text
    assert "## Accuracy per tag, known and unseen words" in text


def test_an_ensemble_trains_evaluates_and_tags_from_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    run(
        "train.py", "debug=limit", "trainer.max_epochs=1", "model=char", "model.ensemble=2", "seed=0",
        f"data.data_dir={FIXTURES}", "data.val_fraction=0.2", f"hydra.run.dir={out}", *SMALL_MODEL,
    )
    checkpoint = out / "checkpoints" / "last.ckpt"
    tagger = Tagger.load(checkpoint, device="cpu")
    assert len(tagger.model.members()) == 2
    tags = tagger.tag_sentences(SENTENCES)
    assert [len(t) for t in tags] == [len(s) for s in SENTENCES]
    batch = collate([tagger.vocab.encode(words) for words in SENTENCES[2:3]])
    with torch.no_grad():
        averaged = torch.stack([logits.softmax(-1) for logits in tagger.model.member_logits(batch)]).mean(0)
    assert tags[2] == [tagger.vocab.tags.itos[i] for i in averaged[0].argmax(-1).tolist()]
    evaluated = tmp_path / "evaluate"
    run("evaluate.py", f"ckpt_path={checkpoint}", f"data.test_file={FIXTURES / 'test.txt'}", f"hydra.run.dir={evaluated}")
    # one epoch: the best checkpoint train.py scored is the last one, so the two must agree
    trained = json.loads((out / "metrics.json").read_text())["test/acc"]
    assert json.loads((evaluated / "metrics.json").read_text())["test/acc"] == pytest.approx(trained)


def test_a_checkpoint_written_before_the_data_package_still_tags_and_evaluates(tmp_path):
    """A small model=char checkpoint written by commit 8dd5c96 (vocabularies under the old
    data module's class name); its tags then, from the same inputs, are kept beside it."""
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    expected = json.loads((fixtures / "checkpoint-8dd5c96.tags.json").read_text())
    tagger = Tagger.load(fixtures / "checkpoint-8dd5c96.ckpt", device="cpu")
    assert tagger.tag_sentences(expected["sentences"]) == expected["tags"]
    out = tmp_path / "eval"
    run("evaluate.py", f"ckpt_path={fixtures / 'checkpoint-8dd5c96.ckpt'}", f"data.data_dir={FIXTURES}", f"hydra.run.dir={out}")
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["test/acc"] <= 1.0


def test_tagging_a_checkpoint_imports_no_lightning_and_loads_the_network_evaluation_loads(checkpoint):
    """`postag tag` starts without Lightning (seconds of imports); the network it loads is the one
    evaluate.py's LightningModule holds, for checkpoints of today's layout and of an earlier one."""
    from pathlib import Path

    from postag.training.module import TaggerModule
    from postag.training.checkpoint_file import load_network

    legacy = Path(__file__).parent / "fixtures" / "checkpoint-8dd5c96.ckpt"
    for path in (checkpoint, legacy):
        net, vocab, _ = load_network(path)
        module = TaggerModule.load_from_checkpoint(path)
        assert vocab.state_dict() == module.vocab.state_dict() and not net.training and not module.training
        theirs = module.net.state_dict()
        assert net.state_dict().keys() == theirs.keys()
        assert all(torch.equal(value, theirs[name]) for name, value in net.state_dict().items())
    code = (
        "import sys; from postag.app.tagger import Tagger; "
        f"print(Tagger.load({str(checkpoint)!r}, device='cpu').tag(['the', 'cat'])); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning', 'torchmetrics')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    tags, imported = out.stdout.strip().splitlines()
    assert len(eval(tags)) == 2 and imported == "[]"
