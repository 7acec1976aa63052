"""This program's own components (a common Pulumi layout): they live beside gpuplane's
`gpuplane.components` without shadowing it."""
