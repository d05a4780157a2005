"""The feedback pages' numbers and answers for programs: metrics, responses and exports."""
