import math

import torch
import torch.nn.functional as F

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.contrastive import Contrastive, ContrastiveConfig, nt_xent, partner_retrieval


def test_nt_xent_matches_its_definition():
    torch.manual_seed(0)
    z = torch.randn(6, 4)
    temperature = 0.5
    unit = F.normalize(z, dim=1)
    expected = 0.0
    for i in range(6):
        partner = (i + 3) % 6
        logits = [float(unit[i] @ unit[j]) / temperature for j in range(6) if j != i]
        expected += -(float(unit[i] @ unit[partner]) / temperature - math.log(sum(math.exp(v) for v in logits)))
    assert math.isclose(nt_xent(z, temperature).item(), expected / 6, rel_tol=1e-5)


def test_views_of_one_image_close_together_give_a_low_loss_and_perfect_retrieval():
    torch.manual_seed(0)
    anchors = torch.randn(8, 16)
    pairs = torch.cat([anchors, anchors + 0.01 * torch.randn(8, 16)])
    assert partner_retrieval(pairs).all()
    assert nt_xent(pairs, 0.1) < nt_xent(torch.randn(16, 16), 0.1)


def test_views_differ_repeat_with_the_step_seed_and_keep_the_input_channels():
    for kind, channels in (("intensity", 1), ("rgb", 3)):
        task = Contrastive(Backbone("vgg_small", channels), kind, ContrastiveConfig(projection_width=16))
        images = torch.rand(4, 3, 24, 24)
        first, _ = task.make_batch(images, BatchRandom(3, 7, 4))
        again, _ = task.make_batch(images, BatchRandom(3, 7, 4))
        other, _ = task.make_batch(images, BatchRandom(3, 8, 4))
        assert first.shape == (8, channels, 24, 24) and first.min() >= -1.0 and first.max() <= 1.0
        torch.testing.assert_close(first, again)
        assert not torch.equal(first, other) and not torch.equal(first[:4], first[4:])
