"""core.nn.discriminator: the shared multi-scale patch discriminator and the AUC that says whether it learns."""

import torch

from core.nn.discriminator import DiscriminatorConfig, MsImageDis, discriminator_auc


def test_patch_outputs_per_scale_and_auc_after_learning_to_tell_two_sets_apart():
    torch.manual_seed(0)
    cfg = DiscriminatorConfig(dim=8, n_layer=2, n_res=1, num_scales=2, gp_weight=0.0, init="kaiming")
    dis = MsImageDis(cfg)
    x = torch.rand(4, 3, 64, 32)
    shapes = [tuple(o.shape) for o in dis(x)]
    assert shapes == [(4, 1, 16, 8), (4, 1, 8, 4)]
    # real: sharp random blocks; generated: the same blurred. D must learn to separate them
    real = torch.rand(16, 3, 8, 4).repeat_interleave(8, 2).repeat_interleave(8, 3)
    fake = torch.nn.functional.avg_pool2d(real, 5, 1, 2)
    opt = torch.optim.Adam(dis.parameters(), lr=2e-3, betas=(0.5, 0.999))
    start = discriminator_auc(dis, fake, real)
    for _ in range(40):
        loss, penalty = dis.dis_loss(fake, real)
        assert float(penalty.detach()) == 0.0
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert discriminator_auc(dis, fake, real) > 0.95, start
    assert float(dis.gen_loss(fake)) > float(dis.gen_loss(real))  # G is pushed towards what D calls real
