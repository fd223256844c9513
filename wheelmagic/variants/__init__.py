"""The pure variant engine: filenames, variant metadata, compatibility, PEP 825 ordering, selection.

Nothing here touches the network, the disk, the environment or the clock.
"""
