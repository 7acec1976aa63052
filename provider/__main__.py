"""The component package's entry point (see gpuplane/package.py)."""

from gpuplane.package import main

if __name__ == "__main__":
    main()
