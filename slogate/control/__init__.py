"""Release control: freezes, exemptions, automatic halts and the decisions audit, held in
memory and written to the store before they take effect."""
