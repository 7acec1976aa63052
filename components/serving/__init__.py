"""The cloud-agnostic serving stack, installed on whatever cluster the contract hands it."""
