"""Agents on another machine over SSH (paramiko): the workspace synced by tar, the tree killable."""
