"""The staff's own set-up pages for surveys and touchpoints, beside the admin for power users."""
