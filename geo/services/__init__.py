"""Use cases: one function per thing a user or command asks for. They take a Session, never commit."""
