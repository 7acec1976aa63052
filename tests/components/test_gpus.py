"""The GPU machine catalogue that config validation relies on."""

from gpuplane.components import gpus


def test_machine_types_imply_their_gpu() -> None:
    assert gpus.implied_gpu("aws", "g6.xlarge") == gpus.Gpu("nvidia-l4", 1)
    assert gpus.implied_gpu("aws", "p5.48xlarge") == gpus.Gpu("nvidia-h100-80gb", 8)
    assert gpus.implied_gpu("gcp", "g2-standard-48") == gpus.Gpu("nvidia-l4", 4)
    assert gpus.implied_gpu("azure", "Standard_NC4as_T4_v3") == gpus.Gpu("nvidia-tesla-t4", 1)


def test_cpu_machines_and_other_clouds_have_no_gpu() -> None:
    assert gpus.implied_gpu("aws", "m6i.large") is None
    assert gpus.implied_gpu("gcp", "g6.xlarge") is None
    assert gpus.implied_gpu("existing", "g6.xlarge") is None


def test_only_gcp_n1_takes_an_attached_gpu() -> None:
    assert gpus.takes_attached_gpu("gcp", "n1-standard-8")
    assert not gpus.takes_attached_gpu("gcp", "n2-standard-8")
    assert not gpus.takes_attached_gpu("aws", "n1-standard-8")


def test_family_list_for_messages() -> None:
    assert "g6.*" in gpus.families("aws")
    assert "n1-* with accelerator" in gpus.families("gcp")
