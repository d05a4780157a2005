"""Answering: the pages of the email link and the public link, the widget's API, and how an
answer without an invitation is recorded."""
