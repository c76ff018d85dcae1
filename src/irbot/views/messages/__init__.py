"""What irbot says in channels and direct messages: one module per topic, template names only here."""
