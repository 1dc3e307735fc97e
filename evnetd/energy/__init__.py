"""Energy management (evnet-energy): site fuse protection, solar surplus, schedules, sharing.

The policies here are pure cores fed the monotonic time (and, for schedules, the local wall
clock); ``policy.combine`` states how their answers become the one ``energy`` limit that
charge control arbitrates. The service around them is ``service``.
"""
