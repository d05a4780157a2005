"""What people say in their comments: the terms that distinguish groups of answers, themes and tone."""
