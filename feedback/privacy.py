"""Who answered, for readers who may not know: a stable pseudonym in place of the contact."""

from django.utils.crypto import salted_hmac


def pseudonym(contact_id: int | None) -> str:
    """The same contact always gets the same 20 hex digits; without the secret key they cannot be
    turned back into the contact. Empty for answers without a contact."""
    if contact_id is None:
        return ""
    return salted_hmac("feedback.exports.contact", str(contact_id)).hexdigest()[:20]
