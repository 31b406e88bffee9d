"""The casstore Kivy viewer (see issue 7); it builds on the casstore library only."""
