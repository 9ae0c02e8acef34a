"""The benchmark script runs and reports sane rows (its figures live in docs/benchmarks.md)."""

import queue
import sys
import unicodedata

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import benchmark  # noqa: E402


@pytest.mark.parametrize(
    "encoder, attention, batching, mode",
    [
        ("postag", "manual", "bucketed", "train"),
        ("torch-defaults", None, "random", "tag"),
    ],
)
def test_one_benchmark_configuration_gives_a_row(encoder, attention, batching, mode):
    job = dict(
        name="test", encoder=encoder, h=4, attention=attention, batching=batching, mode=mode,
        device="cpu", bf16=False, compile=False, fused_optimizer=True, train_batches=2, tag_passes=1,
        keep_freed_memory=False,
    )
    rows = queue.Queue()
    benchmark.measure(job, rows)
    row = rows.get_nowait()
    assert row["tokens_per_s"] > 0
    assert 0.0 <= row["padding"] < 1.0
    if batching == "bucketed":
        # postag's batches pad far less than random ones (about 4-5% here against 50-60%)
        assert row["padding"] < 0.2
    else:
        assert row["padding"] > 0.3


def test_tagging_ceiling_swaps_in_torch_kernels_and_puts_postags_back():
    import tagging_ceiling
    import torch

    import postag.network.model

    torch.manual_seed(0)
    model = benchmark.PostagTagger(50, 7, hidden_n=16, n=2, h=4, ff_dim=32, attention="manual").eval()
    tokens = torch.randint(1, 50, (3, 9))
    mask = torch.arange(9)[None, :] < torch.tensor([9, 5, 1])[:, None]
    hand_built = model(tokens, mask)
    softmax = postag.network.model.softmax
    with tagging_ceiling.torch_kernels(model):
        assert postag.network.model.softmax is not softmax
        assert all("forward" in vars(m) for m in model.modules() if isinstance(m, postag.network.model.LayerNorm))
        fused = model(tokens, mask)
    torch.testing.assert_close(fused, hand_built, atol=1e-5, rtol=1e-5)
    assert postag.network.model.softmax is softmax
    assert not any("forward" in vars(m) for m in model.modules())
    torch.testing.assert_close(model(tokens, mask), hand_built, atol=0, rtol=0)


@pytest.mark.parametrize(
    "chars_per_type, runtime, fresh", [(False, "torch", True), (True, "torch", True), (True, "torch", False),
                                       (True, "onnx", True)]
)
def test_the_tagger_configuration_tags_from_words_with_the_projects_model_config(chars_per_type, runtime, fresh):
    job = dict(
        name="test", encoder="tagger", model=["model=char", "model.n=1"], chars_per_type=chars_per_type,
        runtime=runtime, fresh=fresh, h=None,
        attention=None, batching="bucketed", mode="tag", device="cpu", bf16=False, compile=False, tag_passes=1,
        keep_freed_memory=False,
    )
    rows = queue.Queue()
    benchmark.measure(job, rows)
    row = rows.get_nowait()
    assert row["tokens_per_s"] > 0
    assert 0.0 <= row["padding"] < 0.2  # the Tagger's own batches: sorted by length, a token budget
    assert row["memory_kind"] == "RSS growth" and row["peak_mib"] >= 0


def test_table_rows_compare_each_row_with_torch_measured_with_the_same_malloc_setting():
    def row(name, encoder, batching, keep, rate):
        return dict(
            name=name, encoder=encoder, h=4, batching=batching, mode="tag", bf16=False, keep_freed_memory=keep,
            tokens_per_s=rate, padding=0.05, peak_mib=10.0, memory_kind="RSS growth",
        )

    rows = [
        row("torch encoder, random batches (reference)", "torch", "random", True, 100.0),
        row("torch encoder, random batches (reference)", "torch", "random", False, 50.0),
        row("torch encoder, bucketed batches", "torch", "bucketed", True, 200.0),
        row("torch encoder, bucketed batches", "torch", "bucketed", False, 80.0),
        row("postag manual attention, bucketed batches", "postag", "bucketed", True, 300.0),
        row("postag manual attention, bucketed batches", "postag", "bucketed", False, 120.0),
    ]
    lines = benchmark.table_rows(rows)
    assert len(lines) == len(rows)
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    # configuration, vs reference, vs torch on the same batches
    assert [(c[2], c[5], c[6]) for c in cells[4:]] == [
        ("postag manual attention, bucketed batches", "3.00x", "1.50x"),
        ("postag manual attention, bucketed batches, glibc malloc defaults", "2.40x", "1.50x"),
    ]
    assert cells[1][2] == "torch encoder, file order (reference), glibc malloc defaults"
    assert cells[0][6] == ""  # torch's own rows have no same-batches ratio


def test_export_split_writes_the_sentences_postag_trains_validates_and_tests_on(tmp_path):
    import export_split

    from postag.data import ConlluReader, TaggingDataModule
    from tiny_corpus import TINY_DIR

    overrides = [f"data.data_dir={TINY_DIR}", "data.val_fraction=0.25", "data.download=false"]
    assert export_split.main([str(tmp_path), *overrides]) == 0
    datamodule = TaggingDataModule(data_dir=str(TINY_DIR), val_fraction=0.25, download=False)
    datamodule.setup("fit")
    datamodule.setup("test")
    reader = ConlluReader("xpos")  # CoNLL-2000's tags are language-specific ones
    for split, name in export_split.SPLIT_FILES.items():
        assert reader.read(tmp_path / f"postag-ud-{name}.conllu") == datamodule.sentences[split]
    assert len(datamodule.sentences["val"]) > 0


CONLLU = """# sent_id = a
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\t_\t_\t3\taux\t3:aux\t_
2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\t_

# sent_id = b
1\tStay\tstay\tVERB\t_\t_\t0\troot\t_\t_
1.1\tyou\tyou\tPRON\t_\t_\t_\t_\t1:nsubj\t_
2\there\there\tADV\t_\t_\t1\tadvmod\t_\t_

# sent_id = c
1\tOK\tok\tINTJ\t_\t_\t0\troot\t_\t_
"""


def test_caseless_treebank_joins_sentences_renumbers_them_and_postag_reads_the_result(tmp_path):
    import caseless_treebank

    from postag.data.conllu import ConlluReader

    source = tmp_path / "en-ud-train.conllu"
    source.write_text(CONLLU, encoding="utf-8")
    out = tmp_path / "caseless.conllu"
    assert caseless_treebank.convert(source, out, join=2, every=2) == [5, 1]  # a and b joined; c alone
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    assert [r[0] for r in rows] == ["1-2", "1", "2", "3", "4", "4.1", "5", "1"]
    assert [r[6] for r in rows] == ["_", "3", "3", "0", "0", "_", "4", "0"]  # b's words point at b's root
    assert [r[8] for r in rows] == ["_"] * 8
    # d, o, n, t, g: the 4th, 15th, 14th, 20th and 7th letters of each alphabet; D and d alike; ' kept
    d, o, n, t, g = (chr(0x05D0 + i) for i in (3, 14, 13, 19, 6))
    assert [r[1] for r in rows][:4] == [f"{d}{o}{n}'{t}", f"{d}{o}", f"{n}'{t}", f"{g}{o}"]
    assert all(unicodedata.category(c) == "Lo" for c in caseless_treebank.HEBREW)
    assert [r[3] for r in rows] == ["_", "AUX", "PART", "VERB", "VERB", "PRON", "ADV", "INTJ"]
    sentences = ConlluReader("upos").read(out)
    assert [tags for _, tags in sentences] == [["AUX", "PART", "VERB", "VERB", "ADV"], ["INTJ"]]
    assert not any(c.isupper() or c.islower() for words, _ in sentences for word in words for c in word)


def test_profile_step_times_the_phases_of_train_pys_own_steps(tmp_path):
    import profile_step
    from tiny_corpus import TINY_DIR as FIXTURES

    out = tmp_path / "profile.md"
    report = profile_step.main([
        "--steps", "3", "--warmup", "1", "--top", "5", "--write", str(out), "model=pos", "data.batch_size=4",
        f"data.data_dir={FIXTURES}", "data.val_fraction=0.2",
    ])
    assert out.read_text().strip() == report.strip()
    phases = {line.split(" | ")[0].lstrip("| "): line for line in report.splitlines() if line.startswith("| ")}
    assert set(profile_step.PHASES) <= set(phases)
    per_step = [float(phases[p].split(" | ")[1]) for p in profile_step.PHASES]
    total = float(phases["**a step**"].split(" | ")[1].strip("*"))
    assert all(ms >= 0 for ms in per_step) and per_step[1] > 0 and per_step[2] > 0  # forward, backward
    assert abs(sum(per_step) - total) < 0.05 + 0.01 * total
    operators = [line for line in report.splitlines() if line.startswith("| aten::") or line.startswith("| Optimizer")]
    assert 1 <= len(operators) <= 5
    assert "Host reads of tensor values, per step: `aten::item`" in report


def test_span_decoding_scores_a_chunkers_tags_both_ways_and_the_decoders_as_evaluation_does(tmp_path, capsys):
    import json

    import span_decoding

    from conftest import FIXTURES, SMALL_MODEL, run

    out = tmp_path / "run"
    run("train.py", "trainer.max_epochs=1", "data.tag_column=[pos,chunk]", f"data.data_dir={FIXTURES}",
        "data.val_fraction=0.2", "test_checkpoint=last", f"hydra.run.dir={out}", *SMALL_MODEL)
    metrics = json.loads((out / "metrics.json").read_text())
    ckpt = str(out / "checkpoints" / "last.ckpt")
    assert span_decoding.main([str(FIXTURES / "test.txt"), ckpt]) == 0
    table = [line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[1] for row in table] == list(span_decoding.DECODINGS)
    token, decoded = table
    assert int(token[5]) >= 0 and int(decoded[5]) == 0
    assert float(decoded[2]) == pytest.approx(100 * metrics["test/span_f1"], abs=0.006)
    assert decoded[6] == f"{100 * metrics['test/xpos_acc']:.2f} / {100 * metrics['test/chunk_acc']:.2f}"
    with pytest.raises(SystemExit, match="with no column of span tags"):
        span_decoding.main([str(FIXTURES / "test.txt"), str(ROOT / "tests" / "fixtures" / "checkpoint-8dd5c96.ckpt"), "--tag-column", "pos"])
