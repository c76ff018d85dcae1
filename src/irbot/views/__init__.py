"""Views: data turned into what people see (Block Kit messages and modals, text from the templates)."""
