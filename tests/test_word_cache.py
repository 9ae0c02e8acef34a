"""Known words' features kept from batch to batch (KnownWordFeatures) against the features worked
out for every batch: the same vectors and scores, windows and ensembles included, each known word
worked out once, unknown words every time."""

import torch

from conftest import FIXTURES
from postag.app.tagger import Tagger
from postag.data import UNK_ID, Vocabularies, read_conll
from postag.network.tagging import TaggingNetwork, data_arguments, features_of
from postag.network.word_cache import KnownWordFeatures

TRAIN = read_conll(FIXTURES / "train.txt")
TEST = [words for words, _ in read_conll(FIXTURES / "test.txt")]
# known words again and again, unknown ones of several forms, a long sentence cut into windows
BATCHES = [TEST[:3], TEST[1:4] + [["Zyzzyva", "Quuxes", "the", "."]], [["Zyzzyva", "blorps"] * 7], TEST[:2]]


def network(**settings) -> tuple[TaggingNetwork, Vocabularies]:
    torch.manual_seed(0)
    vocab = Vocabularies.from_training(TRAIN, TRAIN, min_freq=1)
    net = TaggingNetwork(
        **data_arguments(vocab), hidden_n=24, n=2, h=3, positional=True, max_len=8, max_offset=2, conv_kernel=3,
        char_n=8, shape_features=True, affix_features=True, **settings,
    ).eval()
    return net, vocab


def test_kept_features_are_those_of_each_batch_and_each_known_word_is_worked_out_once():
    net, vocab = network()
    kept = KnownWordFeatures(len(vocab.words))
    worked_out = []  # the tokens each call of the word features works out
    net.word_features.register_forward_hook(lambda module, args, out: worked_out.append(args[1].numel()))
    seen = set()
    with torch.inference_mode():
        for sentences in BATCHES:
            batch = vocab.encode_batch(sentences)
            worked_out.clear()
            expected = features_of(net.word_features, batch)  # (B, S, H)
            got = kept(net.word_features, batch)
            torch.testing.assert_close(got[batch.mask], expected[batch.mask])
            assert (got[~batch.mask] == 0).all()  # padding stays finite (zeros)
            ids = batch.tokens[batch.mask].tolist()
            # this call: every unknown token, and the known tokens of words not met before
            assert worked_out[1] == sum(1 for i in ids if i == UNK_ID or i not in seen)
            seen.update(ids)
    assert UNK_ID in seen and len(seen) > 5


def test_scores_with_kept_features_equal_the_networks_in_windows_and_ensembles():
    net, vocab = network(ensemble=2)
    kept = KnownWordFeatures(len(vocab.words))
    with torch.inference_mode():
        for sentences in BATCHES:  # the third is longer than the 8 positions: windows
            batch = vocab.encode_batch(sentences)
            torch.testing.assert_close(net(batch, features=kept)[batch.mask], net(batch)[batch.mask])


def test_in_training_the_features_are_worked_out_every_batch_and_nothing_is_kept():
    net, vocab = network()
    net.train()
    kept = KnownWordFeatures(len(vocab.words))
    batch = vocab.encode_batch(TEST[:3])
    torch.testing.assert_close(kept(net.word_features, batch), features_of(net.word_features, batch))
    assert kept._tables == {}


def test_tagger_tags_as_the_network_scores_batch_by_batch():
    net, vocab = network()
    sentences = [words for batch in BATCHES for words in batch]
    # one sentence a batch, as each is scored below; the kept features serve the later batches
    tags = Tagger(net, vocab, batch_size=1).tag_sentences(sentences)
    with torch.inference_mode():
        for words, sentence_tags in zip(sentences, tags):
            best = net(vocab.encode_batch([words]))[0].argmax(-1).tolist()
            assert sentence_tags == [vocab.tags.itos[i] for i in best]
