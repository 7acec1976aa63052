"""gpuplane's CrossGuard policy pack: the security defaults as rules."""
