//! safetensors / npz state dict + architecture file import (in progress).
