"""Notifications: tells each member what concerns it, by signed webhook and e-mail, reliably."""
